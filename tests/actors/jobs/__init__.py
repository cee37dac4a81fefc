"""Tests of actors.jobs."""
