"""Fuzz every operation of the served OpenAPI spec (schemathesis, valid and invalid inputs) against
a real engine: no request may get a 5xx. Half the cases use a real session, object and job id, so
the fuzzing reaches past the 404s into the real handlers."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

from engine.evaluation.synthetic import SyntheticClip
from tests.conftest_server import EngineProcess, session_with_keyframe

schemathesis = pytest.importorskip("schemathesis")

EXAMPLES = int(os.environ.get("VTA_FUZZ_EXAMPLES", "30"))  # per operation and mode


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    base = tmp_path_factory.mktemp("fuzz")
    proc = EngineProcess(base)
    clip = SyntheticClip(160, 90, 8)
    movie = clip.write_movie(proc.home / "fuzz.mp4")
    proc.start()
    client = proc.client()
    s, obj = session_with_keyframe(client, movie, clip)
    job = client.track(s["id"])
    client.wait(job["id"])
    proc.ids = {"session_id": s["id"], "obj": str(obj["id"]), "job_id": job["id"], "frame": 0}
    yield proc
    proc.stop()


def test_openapi_fuzz_no_server_errors(engine):
    schema = schemathesis.openapi.from_url(engine.url + "/openapi.json")
    stats = {"cases": 0, "by_status": {}}
    server_errors = []

    def run(operation, mode):
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case):
            stats["cases"] += 1
            if stats["cases"] % 2 and case.method.upper() != "DELETE" and case.path_parameters:
                for key, value in engine.ids.items():
                    if key in case.path_parameters:
                        case.path_parameters[key] = value
            response = case.call(base_url=engine.url, timeout=30)
            stats["by_status"][response.status_code] = stats["by_status"].get(response.status_code, 0) + 1
            if response.status_code >= 500:
                server_errors.append(f"{case.method} {case.formatted_path} → {response.status_code}: {response.text[:200]}")

        try:
            check()
        except Unsatisfiable:  # nothing to make invalid (an operation without parameters)
            pass

    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            run(operation, mode)
    print(f"\nschemathesis: {stats['cases']} cases over {operations} operations; statuses {sorted(stats['by_status'].items())}")
    assert operations >= 25
    assert not server_errors, "\n".join(server_errors[:20])
    assert engine.client().health()["version"]  # still up
