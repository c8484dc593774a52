"""HTTP layer: FastAPI routes for the three intakes and the health endpoints."""
