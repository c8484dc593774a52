"""Amazon SNS HTTP(S) deliveries: envelope parsing, URL rules, certificate trust and signature verification."""
