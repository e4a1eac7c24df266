/* Copy buttons: <button data-copy="#target" data-copied="Copied">Copy</button> copies the
   target's text (or an input's value). Where the Clipboard API is unavailable (a page served
   over plain http from another host) the text is selected instead, for Ctrl+C. */
(function () {
  "use strict";

  function textOf(target) {
    return "value" in target && target.tagName !== "BUTTON" ? target.value : target.textContent;
  }

  function select(target) {
    if (typeof target.select === "function") {
      target.select();
      return;
    }
    var range = document.createRange();
    range.selectNodeContents(target);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function announce(button, text) {
    var label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    button.textContent = text;
    var region = document.getElementById("pt-announce");
    if (region) {
      region.textContent = text;
    }
    window.setTimeout(function () {
      button.textContent = label;
    }, 2000);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) {
      return;
    }
    var target = document.querySelector(button.dataset.copy);
    if (!target) {
      return;
    }
    var copied = button.dataset.copied || "Copied";
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(textOf(target)).then(
        function () { announce(button, copied); },
        function () { select(target); }
      );
    } else {
      select(target);
    }
  });
})();
