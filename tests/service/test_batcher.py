"""Micro-batching: concurrent requests share model calls, and each gets exactly its own results."""

from __future__ import annotations

import asyncio

import pytest

from service.batcher import MicroBatcher

TEXTS = [
    "Третий день нет горячей воды в доме на Ленина 5, когда дадут?",
    "Спасибо за праздник!",
    "бл@ть, опять яма на Садовой",
    "Когда откроют бассейн после ремонта?",
    "Во дворе пахнет газом, срочно приезжайте!",
    "ты сам дурак, не пиши сюда",
]


def _run(coro):
    return asyncio.run(coro)


def test_concurrent_requests_get_their_own_results_in_fewer_model_calls(trained_model):
    requests = [[TEXTS[i % len(TEXTS)], TEXTS[(i * 5 + 1) % len(TEXTS)]][: 1 + i % 2] for i in range(40)]
    expected = [trained_model.classify(texts) for texts in requests]

    async def main() -> tuple[list, MicroBatcher]:
        batcher = MicroBatcher(max_wait=0.01, max_comments=64)
        got = await asyncio.gather(*(batcher.classify(trained_model, texts) for texts in requests))
        return got, batcher

    got, batcher = _run(main())
    assert got == expected  # same results, same order, per request
    assert batcher.batched_requests == len(requests)
    assert batcher.batches < len(requests)  # gathered: fewer model calls than requests


def test_a_batch_never_exceeds_max_comments_and_huge_requests_go_alone(trained_model):
    async def main() -> MicroBatcher:
        batcher = MicroBatcher(max_wait=0.01, max_comments=8)
        small = [batcher.classify(trained_model, [TEXTS[i % 6]] * 3) for i in range(6)]
        huge = batcher.classify(trained_model, TEXTS * 2)  # 12 >= 8: its own call, not through the runner
        results = await asyncio.gather(*small, huge)
        assert [len(r) for r in results] == [3] * 6 + [12]
        return batcher

    batcher = _run(main())
    assert batcher.batched_requests == 6
    assert batcher.batches >= 3  # 18 comments in batches of at most 8 (whole requests: 2 per batch)


class _FailsOn:
    """The real model, except that one marked text raises (a fault injected to test isolation)."""

    def __init__(self, model, marker: str) -> None:
        self.model, self.marker = model, marker

    def classify(self, texts):
        if self.marker in texts:
            raise RuntimeError("injected failure")
        return self.model.classify(texts)


def test_a_failing_request_fails_alone(trained_model):
    model = _FailsOn(trained_model, "BOOM")

    async def main():
        batcher = MicroBatcher(max_wait=0.01)
        return await asyncio.gather(
            batcher.classify(model, [TEXTS[0]]),
            batcher.classify(model, ["BOOM"]),
            batcher.classify(model, [TEXTS[1]]),
            return_exceptions=True,
        )

    first, failed, third = _run(main())
    assert isinstance(failed, RuntimeError)
    assert first == trained_model.classify([TEXTS[0]]) and third == trained_model.classify([TEXTS[1]])


def test_a_lone_request_waits_at_most_the_bound(trained_model):
    async def main() -> float:
        batcher = MicroBatcher(max_wait=0.002)
        await batcher.classify(trained_model, [TEXTS[0]])  # warm up
        loop = asyncio.get_running_loop()
        start = loop.time()
        await batcher.classify(trained_model, [TEXTS[1]])
        return loop.time() - start

    # One comment costs a few ms; the gather adds at most 2 ms. A generous bound: no stall, no lost wake-up.
    assert _run(main()) < 0.5


@pytest.mark.parametrize("n", [1, 30])
def test_http_classify_through_the_batcher_matches_direct_calls(api, trained_model, n):
    import concurrent.futures

    bodies = [
        {"comments": [{"id": f"{k}-{j}", "text": TEXTS[(k + j) % 6]} for j in range(1 + k % 3)]} for k in range(n)
    ]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda b: api.post("/classify", json=b), bodies))
    for body, r in zip(bodies, answers, strict=True):
        assert r.status_code == 200, r.text
        got = r.json()["results"]
        assert [x["id"] for x in got] == [c["id"] for c in body["comments"]]
        want = trained_model.classify([c["text"] for c in body["comments"]])
        for g, w in zip(got, want, strict=True):
            assert {k: g[k] for k in w} == w
