"""Routers of the service: thin HTTP layers over TriageModel and the stores."""
