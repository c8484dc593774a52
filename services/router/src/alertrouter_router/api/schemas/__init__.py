"""Response models of the router's API, one module per concern: the OpenAPI document describes real shapes and
FastAPI checks every answer against them (a route that drifts fails loudly instead of answering an undocumented
shape)."""
