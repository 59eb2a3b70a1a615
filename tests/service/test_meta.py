"""/health, /ready, /labels, /version, /metrics and the OpenAPI schema."""

from __future__ import annotations

import re

from training.runtime.taxonomy import default_taxonomy

TAX = default_taxonomy()
ROADS_TEXT = "Третий месяц яма на дороге у дома 12 по Садовой, когда заделают?"


def test_health_and_ready(api):
    assert api.get("/health").json() == {"status": "ok"}
    r = api.get("/ready")
    assert r.status_code == 200
    assert r.json()["status"] == "ready" and r.json()["model_version"]


def test_not_ready_without_a_model_but_alive(app_factory, tmp_path):
    empty = tmp_path / "no-models"
    empty.mkdir()
    client = app_factory(model_dir=empty)
    assert client.get("/health").status_code == 200
    r = client.get("/ready")
    assert r.status_code == 503
    assert "no trained model" in r.json()["reason"]
    assert str(empty) not in r.text  # server paths are not shown to clients
    r = client.post("/classify", json={"comments": [{"text": ROADS_TEXT}]})
    assert r.status_code == 503 and r.json()["error"]
    assert client.get("/version").status_code == 503


def test_labels_is_the_taxonomy_and_its_label_rules(api):
    from training.runtime.feedback.rules import label_rules

    body = api.get("/labels").json()
    assert body.pop("label_rules") == label_rules(TAX).as_dict()
    assert body == TAX.as_dict()
    assert [f["id"] for f in body["flags"]] == list(TAX.flags)


def test_version_is_the_public_manifest(api, trained_model_dir):
    body = api.get("/version").json()
    assert body["version"] == (trained_model_dir / "latest").read_text().strip()
    assert body["sha256"] and body["labels"]["flags"] == list(TAX.flags)
    assert not [k for k in body if "path" in k or "dir" in k]
    assert str(trained_model_dir) not in api.get("/version").text


def test_metrics_prometheus_text(api):
    r = api.post("/classify", json={"comments": [{"text": ROADS_TEXT}, {"text": "Спасибо!"}]})
    categories = [x["category"] for x in r.json()["results"]]
    version = r.json()["model_version"]
    m = api.get("/metrics")
    assert m.status_code == 200 and m.headers["content-type"].startswith("text/plain")
    text = m.text
    count = re.search(r'triage_http_requests_total\{method="POST",route="/classify",status="200"\} (\d+)', text)
    assert count and int(count.group(1)) >= 1
    assert re.search(
        r'triage_http_request_duration_seconds_bucket\{(?=[^}]*route="/classify")(?=[^}]*le="\+Inf")', text
    )
    assert 'triage_http_request_duration_seconds_count{route="/classify"}' in text
    for c in categories:
        assert re.search(rf'triage_results_total\{{category="{c}"\}} [1-9]', text)
    assert f'triage_model_info{{version="{version}"}} 1' in text
    assert "triage_model_ready 1" in text
    api.get("/definitely-not-a-route")
    assert 'route="unmatched",status="404"' in api.get("/metrics").text  # no raw paths as labels


def test_openapi_has_russian_examples(api):
    schema = api.get("/openapi.json").json()
    paths = schema["paths"]
    for path in ("/classify", "/health", "/ready", "/labels", "/version", "/metrics", "/admin/reload"):
        assert path in paths, path
    example = schema["components"]["schemas"]["ClassifyRequest"]["examples"][0]
    assert re.search("[а-яА-Я]", example["comments"][0]["text"])
    result_example = schema["components"]["schemas"]["ClassifyResult"]["examples"][0]
    assert set(result_example["flags"]) == set(TAX.flags)
