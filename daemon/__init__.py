"""The daemon: pipeline, CLI, config; it wires observers, models and memory together."""
