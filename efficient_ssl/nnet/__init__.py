"""nnet."""
