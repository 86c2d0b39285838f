"""Fault tests: processes SIGKILLed during a long partner run (``make chaos``)."""
