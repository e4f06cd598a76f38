"""``spacy_gner.OpenAICompatible.v1``: a spacy-llm model for any OpenAI-compatible server.

Local servers (vLLM ``vllm serve``, llama.cpp's ``llama-server``, Ollama) speak the
OpenAI REST protocol. spacy-llm 0.7's own OpenAI models (``spacy.GPT-4.v3`` etc.) take an
``endpoint`` but cannot be used with them: on construction they call
``https://api.openai.com/v1/models`` (network, and a real OpenAI key) and refuse any
model name that OpenAI does not list; they also send one request at a time and retry
only on HTTP 429/503. This model:

* posts to ``endpoint`` (``.../v1/chat/completions``, or ``.../v1/completions`` for a
  plain-completion server), with ``model = name`` and ``config`` merged into the body;
* sends up to ``max_concurrency`` requests at once (a thread pool; answers keep the
  prompts' order);
* retries connection errors, timeouts and HTTP 408/409/429/5xx up to ``max_tries`` times,
  waiting ``interval`` seconds, doubling each time, or longer when the server asks with a
  ``Retry-After`` header (up to 60 s); other HTTP errors stop at once (E601);
* sends ``Authorization: Bearer $<api_key_env>`` only when that environment variable is
  set: a local server needs no key (and no dummy key).

Only the standard library is used (urllib, concurrent.futures).
"""

import json
import os
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Dict, Iterable, Optional

from spacy_llm.registry import registry

from ..errors import Errors
from ._common import regroup

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


MAX_RETRY_AFTER = 60.0  # seconds: a server's Retry-After is honoured up to this


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: Optional[float] = None):
        super().__init__(message)
        self.retry_after = retry_after


@registry.llm_models("spacy_gner.OpenAICompatible.v1")
@dataclass(eq=False)
class OpenAICompatible:
    """An OpenAI-compatible server (vLLM, llama.cpp server, Ollama, OpenAI itself).

    name (str): the model name the server knows (vLLM: the served model path or
        --served-model-name; Ollama: e.g. "qwen2.5:7b-instruct").
    endpoint (str): full URL of /v1/chat/completions (chat template applied by the server)
        or /v1/completions (prompt sent as is).
    config (Dict[str, Any]): extra request fields (temperature, top_p, stop, ...);
        temperature defaults to 0.
    api_key_env (str): environment variable holding the key; unset = no Authorization header.
    max_new_tokens (Optional[int]): sent as max_tokens (the workflow sets it per step); null = server default.
    max_concurrency (int): requests in flight at once.
    max_tries (int): attempts per prompt (connection errors, timeouts, HTTP 408/409/429/5xx).
    interval (float): seconds before the first retry; doubled after each.
    max_request_time (float): timeout of one request in seconds.
    system_prompt (Optional[str]): system message for chat endpoints.
    context_length (Optional[int]): spacy-llm shards docs whose prompt exceeds it.
    """

    name: str
    endpoint: str = "http://localhost:8000/v1/chat/completions"
    _: KW_ONLY
    config: Optional[Dict[str, Any]] = None
    api_key_env: str = "OPENAI_API_KEY"
    max_new_tokens: Optional[int] = 256
    max_concurrency: int = 4
    max_tries: int = 5
    interval: float = 1.0
    max_request_time: float = 120.0
    system_prompt: Optional[str] = None
    context_length: Optional[int] = None
    chat: bool = field(init=False)
    n_requests: int = field(init=False, default=0)  # HTTP requests sent, retries included
    n_prompts: int = field(init=False, default=0)
    _lock: Any = field(init=False, repr=False, default=None)

    def __post_init__(self):
        endpoint = self.endpoint
        if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
            raise ValueError(Errors.E600.format(what="endpoint", rule="an http:// or https:// URL", value=endpoint))
        for what in ("max_concurrency", "max_tries"):
            value = getattr(self, what)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(Errors.E600.format(what=what, rule="an integer >= 1", value=value))
        for what in ("interval", "max_request_time"):
            value = getattr(self, what)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(Errors.E600.format(what=what, rule="a number > 0", value=value))
            setattr(self, what, float(value))
        self.config = dict(self.config or {})
        path = endpoint.rstrip("/")
        self.chat = not path.endswith("/completions") or path.endswith("/chat/completions")
        self._lock = threading.Lock()

    # --- one prompt -------------------------------------------------------------------

    def _body(self, prompt: str) -> Dict[str, Any]:
        body: Dict[str, Any] = {"temperature": 0.0}
        if self.max_new_tokens is not None:
            body["max_tokens"] = int(self.max_new_tokens)
        body.update(self.config)
        body["model"] = self.name
        if self.chat:
            messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
            body["messages"] = messages + [{"role": "user", "content": prompt}]
        else:
            body["prompt"] = prompt
        return body

    def _headers(self) -> Dict[str, str]:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _post(self, body: Dict[str, Any]) -> Dict[str, Any]:
        data = json.dumps(body).encode("utf8")
        request = urllib.request.Request(self.endpoint, data=data, headers=self._headers(), method="POST")
        with self._lock:
            self.n_requests += 1
        try:
            with urllib.request.urlopen(request, timeout=self.max_request_time) as response:
                raw = response.read()
        except urllib.error.HTTPError as err:
            detail = _error_detail(err)
            if err.code in RETRY_STATUS:
                raise _Retryable(f"HTTP {err.code}: {detail}", _retry_after(err)) from None
            raise ValueError(
                Errors.E601.format(
                    endpoint=self.endpoint, status=err.code, detail=detail, name=self.name, key_env=self.api_key_env
                )
            ) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as err:
            raise _Retryable(" ".join(str(getattr(err, "reason", err)).split()) or type(err).__name__) from None
        try:
            return json.loads(raw.decode("utf8"))
        except (UnicodeDecodeError, ValueError):
            raise ValueError(Errors.E602.format(endpoint=self.endpoint, problem="the body is not JSON")) from None

    def _text(self, answer: Dict[str, Any]) -> str:
        try:
            choice = answer["choices"][0]
            text = choice["message"]["content"] if "message" in choice else choice["text"]
        except (KeyError, IndexError, TypeError):
            keys = sorted(answer) if isinstance(answer, dict) else type(answer).__name__
            raise ValueError(
                Errors.E602.format(endpoint=self.endpoint, problem=f"no choices[0] message or text; got {keys}")
            ) from None
        return (text or "").strip()

    def complete(self, prompt: str) -> str:
        """The server's answer to one prompt, with retries and exponential backoff."""
        body = self._body(prompt)
        wait = self.interval
        problem = ""
        retry_after: Optional[float] = None
        for attempt in range(self.max_tries):
            if attempt:
                time.sleep(max(wait, retry_after or 0.0))
                wait *= 2
            try:
                return self._text(self._post(body))
            except _Retryable as err:
                problem = str(err)
                retry_after = err.retry_after
        raise ConnectionError(Errors.E603.format(endpoint=self.endpoint, tries=self.max_tries, problem=problem))

    # --- spacy-llm model interface ----------------------------------------------------------

    def __call__(self, prompts: Iterable[Iterable[str]]) -> Iterable[Iterable[str]]:
        nested = [[str(p) for p in doc_prompts] for doc_prompts in prompts]
        flat = [p for doc_prompts in nested for p in doc_prompts]
        if self.max_concurrency == 1 or len(flat) <= 1:
            answers = [self.complete(p) for p in flat]
        else:
            with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(flat))) as pool:
                answers = list(pool.map(self.complete, flat))
        self.n_prompts += len(flat)
        return regroup(answers, nested)


def _retry_after(err: "urllib.error.HTTPError") -> Optional[float]:
    """The server's ``Retry-After`` in seconds (capped), when it sends a number."""
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(err.headers.get("Retry-After"))))
    except (TypeError, ValueError, AttributeError):
        return None


def _error_detail(err: "urllib.error.HTTPError") -> str:
    try:
        body = err.read().decode("utf8", "replace")
        parsed = json.loads(body)
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
            body = str(parsed["error"].get("message", body))
        elif isinstance(parsed, dict) and "error" in parsed:
            body = str(parsed["error"])
    except Exception:
        body = err.reason if isinstance(err.reason, str) else ""
    line = " ".join(str(body).split())
    return line[:200] or "no detail"


# setup.cfg's entry point and the tests name the factory by this name
make_openai_compatible = OpenAICompatible
