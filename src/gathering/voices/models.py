"""Models of the voices app."""
