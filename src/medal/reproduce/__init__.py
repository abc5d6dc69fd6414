"""Reproduction: the machine and numerical platform a build ran on, the check that outputs reproduce, and the
submission bundle."""
