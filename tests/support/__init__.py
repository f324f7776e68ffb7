"""Code the tests and the benches share: sample scenes, waiting helpers."""
