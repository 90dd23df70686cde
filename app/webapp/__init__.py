"""The FastAPI Kit demo application: notes, health, metrics."""
