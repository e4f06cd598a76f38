"""A deterministic fake LLM for offline tests of the workflow (not registered by default).

:class:`FakeLLM` answers the bundled English and Chinese prompts of every task from the
sentence in the prompt: entities are the capitalised words ("thing"), segmentation the
whitespace/character split, POS a rule of thumb, explanations two sentences that name the
entities, synonyms the pairs given in ``synonyms``. ``answers`` overrides the answer for
prompts containing a given substring (malformed JSON, empty answers, code fences, invented
words ...). It counts the prompts it answered in ``calls``. Register it under a test name:

    registry.llm_models.register("test.FakeLLM.v1", func=lambda: fake)
"""
import json
import re
from typing import Dict, Iterable, List, Optional, Sequence

_CJK = re.compile(r"[\u4e00-\u9fff]")


class FakeLLM:
    def __init__(
        self,
        answers: Optional[Dict[str, str]] = None,
        synonyms: Sequence[Sequence[str]] = (),
        context_length: int = 100_000,
    ):
        self.answers = dict(answers or {})
        self.context_length = context_length  # spacy-llm shards prompts longer than this
        self.synonyms = [list(g) for g in synonyms]
        self.calls = 0
        self.prompts: List[str] = []

    def __call__(self, prompts: Iterable[Iterable[str]]) -> Iterable[Iterable[str]]:
        out = []
        for doc_prompts in prompts:
            responses = []
            for prompt in doc_prompts:
                self.calls += 1
                self.prompts.append(prompt)
                responses.append(self.respond(prompt))
            out.append(responses)
        return out

    @staticmethod
    def task_of(prompt: str) -> str:
        if "entity types" in prompt or "一组实体类型" in prompt:
            return "synonyms"
        if ("explaining a sample" in prompt and "Entities:" in prompt) or "实体：" in prompt:
            return "explain"
        if "key phrases" in prompt or "关键短语" in prompt:
            return "describe"
        if "part-of-speech" in prompt or "词性" in prompt:
            return "pos"
        if "Split the sentence" in prompt or "分词" in prompt:
            return "seg"
        return "ent"

    @staticmethod
    def sentence_of(prompt: str) -> str:
        m = re.search(r"(?:Sentence: |句子：)(.*)", prompt)
        return m.group(1).strip() if m else ""

    @staticmethod
    def words_of(sentence: str) -> List[str]:
        if _CJK.search(sentence):
            return [c for c in sentence if not c.isspace()]
        return sentence.split()

    def respond(self, prompt: str) -> str:
        for key, answer in self.answers.items():
            if key in prompt:
                return answer
        task = self.task_of(prompt)
        sentence = self.sentence_of(prompt)
        words = self.words_of(sentence)
        if task == "ent":
            ents = [w for w in words if w[:1].isupper() and w.isalpha()]
            return json.dumps([{"entity": w, "type": "thing"} for w in ents])
        if task == "seg":
            return json.dumps(words, ensure_ascii=False)
        if task == "pos":
            m = re.search(r"(?:Words: |分词：)(.*)", prompt)
            seg = [w.strip() for w in m.group(1).split("|")] if m else words
            return json.dumps([{"word": w, "pos": _pos(w)} for w in seg if w], ensure_ascii=False)
        if task == "explain":
            ents = re.findall(r"\"([^\"]+)\" \(([^)]+)\)", prompt)
            return (
                " ".join(f"{text} is a {label} in this sentence." for text, label in ents) or "Nothing to explain here."
            )
        if task == "describe":
            return f"The key phrase is {words[0] if words else 'none'}. It starts the sentence."
        if task == "synonyms":
            types = re.findall(r"^- (.+)$", prompt, flags=re.M)
            groups = [[t for t in g if t in types] for g in self.synonyms]
            return json.dumps([g for g in groups if len(g) >= 2])
        return ""


def _pos(word: str) -> str:
    if not any(c.isalnum() for c in word):
        return "PUNCT"
    if word[:1].isupper():
        return "PROPN"
    if word.isdigit():
        return "NUM"
    return "NOUN"
