"""HTTP layer: the delivery records and health endpoints, the acknowledge/resolve link pages, and the routes the
providers call back (Twilio status, inbound SMS and call digits; Slack buttons)."""
