"""Models of the abuse app."""
