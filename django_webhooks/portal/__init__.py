"""The consumer portal: a third party sees and fixes its own webhooks in a browser.

No store login: a signed, short-lived link (:mod:`.links`) opens a session bound to one API
key (:mod:`.session`); every row is found through that key (:mod:`.scoping`). Pages:
:mod:`.pages` (webhooks, health, deliveries), :mod:`.actions` (the buttons), :mod:`.editing`
(add, change, delete, through the API's serializer), :mod:`.secret` (reveal, rotate, verify).
"""
