"""``spacy_gner.OpenAICompatible.v1`` against a fake OpenAI-compatible server started on
127.0.0.1 in the test (http.server in a thread, canned task answers from ``FakeLLM``): the
augment workflow end to end through spacy-llm, concurrency, retries after a 500, coded
errors, the key header. No network."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin

from spacy_gner.llm.openai_compatible import make_openai_compatible
from spacy_gner.llm.testing import FakeLLM
from spacy_gner.llm.workflow import STEPS, load_config, run_augment

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
SENTENCES = [
    [("Alice", "B-PER"), ("visited", "O"), ("Paris", "B-LOC"), (".", "O")],
    [("Bob", "B-PER"), ("lives", "O"), ("in", "O"), ("Rome", "B-LOC"), (".", "O")],
    [("it", "O"), ("rained", "O"), (".", "O")],
]


class FakeServer:
    """Answers /v1/chat/completions and /v1/completions; ``fail`` is a list of HTTP
    statuses returned (in order) before the real answers; ``delay`` seconds per request."""

    def __init__(self, fail=(), delay=0.0, body=None):
        self.fake = FakeLLM(synonyms=[["thing", "human"]])
        self.fail = list(fail)
        self.delay = delay
        self.body = body
        self.requests = []
        self.statuses = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length))
                with server.lock:
                    server.requests.append(
                        {"path": self.path, "json": payload, "auth": self.headers.get("Authorization")}
                    )
                    status = server.fail.pop(0) if server.fail else 200
                    server.statuses.append(status)  # in the order the statuses were handed out
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                time.sleep(server.delay)
                with server.lock:
                    server.in_flight -= 1
                if status != 200:
                    data = json.dumps({"error": {"message": f"canned failure {status}"}}).encode()
                elif server.body is not None:
                    data = server.body
                elif self.path.endswith("/chat/completions"):
                    answer = server.fake.respond(payload["messages"][-1]["content"])
                    data = json.dumps(
                        {"choices": [{"index": 0, "message": {"role": "assistant", "content": answer}}]}
                    ).encode()
                else:
                    answer = server.fake.respond(payload["prompt"])
                    data = json.dumps({"choices": [{"index": 0, "text": answer}]}).encode()
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "0.4")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in s) for s in SENTENCES) + "\n", encoding="utf8")
    return path


def shipped_config(tmp_path, url, **model):
    """configs/augment_openai_local.cfg with the endpoint pointed at the fake server."""
    text = (CONFIGS / "augment_openai_local.cfg").read_text(encoding="utf8")
    text = text.replace("http://localhost:8000", url).replace("interval = 1.0", "interval = 0.01")
    text = text.replace("batch_size = 16", "batch_size = 2")
    for key, value in model.items():
        text = text.replace(f"\n{key} = ", f"\n{key} = {value}\n#", 1)
    path = tmp_path / "server.cfg"
    path.write_text(text, encoding="utf8")
    return path


def encoder(texts):
    import numpy

    return numpy.array([[0.0, 0.0] if ("thing" in t or "human" in t) else [9.0, 9.0] for t in texts])


def test_augment_workflow_end_to_end_against_a_local_server_with_one_retried_500(tmp_path, corpus, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeServer(fail=[500], delay=0.02) as server:
        config = load_config(shipped_config(tmp_path, server.url))
        report = run_augment(
            corpus, tmp_path / "out", config=config, labels=["PER", "LOC"], steps=STEPS, progress=False, encoder=encoder
        )
        # a rerun is answered from spacy-llm's cache: no request reaches the server
        n_before = len(server.requests)
        run_augment(
            corpus, tmp_path / "out", config=config, labels=["PER", "LOC"], steps=STEPS, progress=False, encoder=encoder
        )
        assert len(server.requests) == n_before
    # ent, seg, pos per doc (3 x 3), one synonym prompt, 2 explanation prompts (docs with
    # entities; no frozen pipeline, so no extension steps over them), plus the one retry
    assert server.statuses.count(500) == 1 and server.statuses[0] == 500
    assert len(server.requests) == 3 * 3 + 1 + 2 + 1
    bodies = [json.dumps(r["json"], sort_keys=True) for r in server.requests]
    assert bodies.count(bodies[0]) == 2  # the request that got the 500 was sent again
    first = server.requests[0]
    assert first["path"] == "/v1/chat/completions" and first["auth"] is None  # no key set: no header
    assert first["json"]["model"] == "Qwen/Qwen2.5-7B-Instruct" and first["json"]["temperature"] == 0.0
    assert {r["json"]["max_tokens"] for r in server.requests} >= {128, 256}  # per-step [max_new_tokens]
    assert server.max_in_flight >= 2  # concurrent requests
    fused = list(DocBin().from_disk(tmp_path / "out" / "fused.spacy").get_docs(spacy.blank("en").vocab))
    assert {("Alice", "ENT:thing"), ("Paris", "ENT:thing"), ("Alice", "SEG")} <= {
        (s.text, s.label_) for s in fused[0].spans["ext"]
    }
    assert report["extension_labels"]["ENT:thing"] == 4  # Alice, Paris, Bob, Rome (the fake tags capitalised words)
    assert report["tasks"]["explain"]["docs"] == 2


def test_augment_cli_against_a_local_server(tmp_path, corpus, augment_cli):
    with FakeServer() as server:
        config = shipped_config(tmp_path, server.url)
        result = augment_cli(corpus, tmp_path / "cli", config, "--model", "llama3:8b", "--steps", "ent,seg", "--quiet")
    assert result.exit_code == 0, result.output
    assert "ENT:thing" in result.output and (tmp_path / "cli" / "fused.spacy").exists()
    assert {r["json"]["model"] for r in server.requests} == {"llama3:8b"}
    assert len(server.requests) == 2 * 3


def make(url, **kwargs):
    kwargs.setdefault("interval", 0.01)
    return make_openai_compatible(name="m", endpoint=url + "/v1/chat/completions", **kwargs)


def test_answers_keep_prompt_order_under_concurrency_and_key_header(monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-local")
    with FakeServer(delay=0.05) as server:
        model = make(server.url, max_concurrency=4, api_key_env="MY_KEY")
        names = ["Ann", "Ben", "Cid", "Dee"]
        prompts = [[f"Sentence: {n} x"] for n in names] + [["Sentence: A b", "Sentence: C d"]]
        out = model(prompts)
    assert [len(o) for o in out] == [1, 1, 1, 1, 2]
    assert [json.loads(o[0]) for o in out[:4]] == [[{"entity": n, "type": "thing"}] for n in names]
    assert json.loads(out[4][1]) == [{"entity": "C", "type": "thing"}]
    assert server.max_in_flight >= 2
    assert model.n_requests == len(server.requests) == 6 and model.n_prompts == 6
    assert {r["auth"] for r in server.requests} == {"Bearer sk-local"}


def test_completions_endpoint_sends_the_prompt_as_is():
    with FakeServer() as server:
        model = make_openai_compatible(name="m", endpoint=server.url + "/v1/completions", max_new_tokens=None)
        assert model([["Sentence: Ann b"]]) == [['[{"entity": "Ann", "type": "thing"}]']]
    body = server.requests[0]["json"]
    assert body["prompt"] == "Sentence: Ann b" and "messages" not in body and "max_tokens" not in body


def test_retries_give_up_with_a_coded_error_and_client_errors_are_not_retried():
    with FakeServer(fail=[503] * 3) as server:
        with pytest.raises(ConnectionError, match=r"E603.*after 3 tries.*HTTP 503"):
            make(server.url, max_tries=3, max_concurrency=1)([["Sentence: A"]])
        assert len(server.requests) == 3
    with FakeServer(fail=[429]) as server:  # honours the server's Retry-After (0.4 s > interval)
        start = time.perf_counter()
        assert make(server.url, max_tries=2)([["Sentence: Ann"]]) == [['[{"entity": "Ann", "type": "thing"}]']]
        assert time.perf_counter() - start >= 0.4 and server.statuses == [429, 200]
    with FakeServer(fail=[404]) as server:
        with pytest.raises(ValueError, match=r"E601.*HTTP 404: canned failure 404"):
            make(server.url)([["Sentence: A"]])
        assert len(server.requests) == 1
    with FakeServer(body=b'{"object": "list"}') as server:
        with pytest.raises(ValueError, match=r"E602.*\['object'\]"):
            make(server.url)([["Sentence: A"]])


def test_unreachable_server_and_bad_settings():
    with FakeServer() as server:
        url = server.url
    # the port is closed now: connection refused, retried, then E603
    with pytest.raises(ConnectionError, match="E603.*2 tries"):
        make(url, max_tries=2)([["Sentence: A"]])
    with pytest.raises(ValueError, match="E600.*'endpoint'"):
        make_openai_compatible(name="m", endpoint="localhost:8000/v1/chat/completions")
    with pytest.raises(ValueError, match="E600.*'max_concurrency'"):
        make(url, max_concurrency=0)
    with pytest.raises(ValueError, match="E600.*'interval'"):
        make(url, interval=0)
