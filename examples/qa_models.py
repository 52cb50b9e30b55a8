"""Two small local "models" for examples/qa.jsonl, so the demo runs a real evaluation offline.

Both take a test case's input JSON (text, chat messages, a tabular row or an image
reference) and return an answer, the way any Python model plugs into evaluation:

    evaltool models add demo-v1 --adapter python --model-id examples.qa_models:v1
    evaltool run demo-v1 demo-qa

v2 is v1 with a "newer knowledge base": it fixes some answers and breaks others, which is
what a comparison between the two runs should find. At a temperature above 0 (evaltool
models params demo-v2 temperature=0.8) it is unsure of a few answers and samples them, as
a real model does: `evaltool run ... --repeats K` then finds those test cases flaky.
`judge` is a local stand-in for a judge model: it reads the pairwise prompt of `evaltool
preferences judge` and prefers the answer that matches the reference.
"""

import json
import random
import re
import time
import zlib
from typing import Any

_V1 = {
    "What is 17 + 25?": "42",
    "What is 12 * 12?": "144",
    "What is 2 to the power of 10?": "1000",
    "What is the capital of France?": "Paris",
    "What is the capital of Japan?": "Kyoto",
    "Which river flows through Cairo?": "Nile",
    'Opposite of "hot"?': "cold",
    "Translate 'merci' to English.": "thanks",
    'Return {"ok": true} as JSON.': {"ok": True},
    "How do you write 'water' in Japanese kanji?": "水",
}
_V2 = {
    **_V1,
    "What is 2 to the power of 10?": "1024",
    "What is the capital of Japan?": "Tokyo",
    "Translate 'merci' to English.": "thank you",
    "Which river flows through Cairo?": "Amazon",
    "How do you write 'water' in Japanese kanji?": "氷",
}
# What v2 is unsure of: at temperature t it gives the second answer with probability t / 2.
_V2_UNSURE = {
    "What is 2 to the power of 10?": "1000",
    "Which river flows through Cairo?": "Nile",
    'Opposite of "hot"?': "warm",
}
_IMAGES = {"v1": "cat", "v2": "dog"}


def v1(input: Any, params: dict[str, Any] | None = None) -> Any:
    """The baseline model."""
    return _answer(input, _V1, "v1")


def v2(input: Any, params: dict[str, Any] | None = None) -> Any:
    """The candidate model: better on some test cases, worse on others, and unsure of a few
    when sampled at a temperature above 0."""
    answer = _answer(input, _V2, "v2")
    temperature = float((params or {}).get("temperature", 0))
    other = _V2_UNSURE.get(_question(input))
    if other is not None and random.random() < temperature / 2:
        return other
    return answer


def judge(input: Any, params: dict[str, Any] | None = None) -> str:
    """A pairwise verdict on the default rubric's prompt: the answer equal to the reference
    (ignoring case and spaces) wins; both or neither is a tie."""
    sections = dict(re.findall(r"^(Reference answer|Answer A|Answer B):\n(.*?)(?:\n\n|\Z)",
                               str(input), re.MULTILINE | re.DOTALL))  # fmt: skip
    reference = _plain(sections.get("Reference answer"))
    a = reference is not None and _plain(sections.get("Answer A")) == reference
    b = reference is not None and _plain(sections.get("Answer B")) == reference
    winner = "A" if a and not b else "B" if b and not a else "tie"
    return json.dumps({"winner": winner, "reason": f"{winner} matches the reference"})


def _plain(text: str | None) -> str | None:
    return None if text is None else " ".join(text.lower().split())


def _answer(input: Any, knowledge: dict[str, Any], version: str) -> Any:
    question = _question(input)
    # a few milliseconds of "inference", the same for the same question
    time.sleep((zlib.crc32(question.encode()) % 15 + 2) / 1000)
    if isinstance(input, dict) and "features" in input:
        return "setosa" if input["features"]["petal_length"] < 2.5 else "versicolor"
    if isinstance(input, dict) and "image" in input:
        return _IMAGES[version]
    return knowledge.get(question, "I don't know")


def _question(input: Any) -> str:
    if isinstance(input, str):
        return input
    if isinstance(input, list):  # chat messages: the last user turn
        return next(m["content"] for m in reversed(input) if m.get("role") == "user")
    return json.dumps(input, sort_keys=True)
