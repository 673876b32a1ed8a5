"""efficiency."""
