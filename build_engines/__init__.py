"""Offline tooling that produces the model files Triton serves (stand-ins, MAC counts, engines)."""
