"""Data: prepare functions, the mini-corpus synthesiser and the shared audio pipeline."""
