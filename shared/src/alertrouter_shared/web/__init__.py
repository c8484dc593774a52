"""What the services' FastAPI apps share: problem+json errors, the bearer scheme, readiness checks and the
OpenAPI document's common parts. The only part of the shared package that may import the web framework."""
