"""The job side: submitting, sending, running, cancelling and settling training jobs.

The training actor, its runner and outcomes, the reaper, the job services the API calls,
pure job policy, event publishing, cancel signals and the worker process wiring. It calls
:mod:`actors.ml` for the work itself and :mod:`store` for every state change.
"""
