"""The points service: the loyalty program (loyalty/) and community challenges (challenges/).
README.md in this folder lists the modules."""

SOURCE = "points"  # the outbox source of every event the service publishes
