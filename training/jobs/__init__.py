"""Batch jobs that run the logged MLflow model on a cluster engine (Spark), above the fit layer.

Nothing here runs when the service classifies a comment; pyspark is imported only inside these modules.
"""
