"""The MLflow pyfunc: `mlflow models serve` and `mlflow.pyfunc.spark_udf` run the bundle's model through the
runtime core, and write the same flat columns as the CLI's predict (training/runtime/batch.py)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.pyfunc import PythonModel

from training.runtime.batch import classify_in_chunks, result_columns, result_row


class TriagePyfunc(PythonModel):
    """A DataFrame with `text` (else its first column) in; one row of result columns per text out."""

    def load_context(self, context: Any) -> None:
        import joblib

        from training.runtime.taxonomy import load_taxonomy

        self.model = joblib.load(context.artifacts["model"])
        # The taxonomy travels with the model: a Spark executor has no project checkout to read it from.
        self.taxonomy = load_taxonomy(context.artifacts["taxonomy"])

    def __getstate__(self) -> dict[str, Any]:
        # The model travels as the model.joblib artifact and load_context restores it; MLflow pickles this
        # object after predicting with it (signature inference), which otherwise put a second copy (55 MB)
        # into python_model.pkl, unpickled by every Spark task before load_context loads the artifact again.
        return {k: v for k, v in self.__dict__.items() if k not in ("model", "taxonomy")}

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        if isinstance(model_input, pd.DataFrame):
            texts = model_input["text" if "text" in model_input.columns else model_input.columns[0]]
        else:
            texts = pd.Series(model_input)
        flags, urgent = self.model.flags, self.model.urgent_label
        results = classify_in_chunks(self.model, texts.astype(str).tolist(), taxonomy=self.taxonomy)
        return pd.DataFrame([result_row(r, flags, urgent) for r in results], columns=result_columns(flags, urgent))
