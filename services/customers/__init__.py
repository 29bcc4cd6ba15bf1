"""The customers service: profiles, the order mirror, engagement, segments and RFM, retention
metrics, GDPR export and erasure. README.md lists its modules."""

SOURCE = "customers"  # what its events carry as their source
