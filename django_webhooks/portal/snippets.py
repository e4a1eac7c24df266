"""The code the signing secret page shows: verifying a delivery in Python and in Node.js.

Both read the secret from ``WEBHOOK_SECRET`` rather than holding it, so the page can show
them before the secret is revealed; the test suite runs both against real deliveries.
"""

from __future__ import annotations

PYTHON = '''\
# pip install standardwebhooks
import os

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

WEBHOOK_SECRET = os.environ["WEBHOOK_SECRET"]  # whsec_…: your signing secret


def verified(body: bytes, headers: dict) -> bool:
    """Whether the store signed this delivery. body: the raw bytes, before any parsing."""
    try:
        Webhook(WEBHOOK_SECRET).verify(body, headers, json_parse=False)
    except WebhookVerificationError:
        return False  # forged, altered or over 5 minutes old: answer 400 and drop it
    return True
'''

NODE = """\
// Node.js 18+, no package needed (or use the standardwebhooks npm package).
const crypto = require("node:crypto");

const WEBHOOK_SECRET = process.env.WEBHOOK_SECRET; // whsec_…: your signing secret
const TOLERANCE_SECONDS = 5 * 60;

// body: the raw request body as a Buffer, before any parsing; headers: req.headers.
function verified(body, headers) {
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  const signatures = headers["webhook-signature"];
  if (!id || !timestamp || !signatures) return false;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) return false;
  const key = Buffer.from(WEBHOOK_SECRET.replace(/^whsec_/, ""), "base64");
  const expected = crypto
    .createHmac("sha256", key)
    .update(Buffer.concat([Buffer.from(`${id}.${timestamp}.`), body]))
    .digest();
  return signatures.split(" ").some((entry) => {
    const [version, signature] = entry.split(",");
    const given = Buffer.from(signature || "", "base64");
    return version === "v1" && given.length === expected.length &&
      crypto.timingSafeEqual(given, expected);
  });
}

module.exports = { verified };
"""
