"""Tests of actors.ml."""
