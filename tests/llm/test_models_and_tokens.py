from __future__ import annotations

import pytest

from memgpt.errors import ConfigError
from memgpt.llm.models import NO_LLM_MESSAGE, context_window_for, open_llm, parse_model_spec, resolve_model
from memgpt.llm.tokens import TokenCalibrator, estimate_message_tokens, estimate_tokens


def test_model_specs_and_windows() -> None:
    assert parse_model_spec("openai/gpt-4o-mini") == ("openai", "gpt-4o-mini")
    assert parse_model_spec("claude-sonnet-4-5") == ("anthropic", "claude-sonnet-4-5")
    assert parse_model_spec("openai-compatible/llama3.1:8b") == ("openai-compatible", "llama3.1:8b")
    assert context_window_for("openai/gpt-4o-mini") == 128_000
    assert context_window_for("openai-compatible/llama3.1:8b") == 131_072
    assert context_window_for("openai-compatible/my-own-model") == 8192
    with pytest.raises(ConfigError):
        parse_model_spec("nonsense")


def test_no_llm_configured_names_every_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_model(None)
    for name in (
        "MEMGPT_MODEL",
        "MEMGPT_LLM_BASE_URL",
        "MEMGPT_LLM_API_KEY",
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "Ollama",
    ):
        assert name in NO_LLM_MESSAGE and name in str(caught.value)
    with pytest.raises(ConfigError, match="MEMGPT_LLM_BASE_URL"):
        open_llm("openai-compatible/llama3.1")
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        open_llm("openai/gpt-4o-mini")


def test_estimates_err_high_against_a_bpe_rule_of_thumb() -> None:
    prose = "The quick brown fox jumps over the lazy dog while the farmer watches from the porch. " * 20
    assert estimate_tokens(prose) >= len(prose) / 4  # GPT-4o BPE is about chars/4 on English
    code = '{"status": "OK", "message": "Appended to \'human\' (120/5000 characters used).", "time": "2024"}'
    assert estimate_tokens(code) >= len(code) / 3.5
    assert estimate_message_tokens([{"role": "user", "content": ""}]) == 4


def test_calibrator_learns_and_is_clamped() -> None:
    calibrator = TokenCalibrator()
    assert calibrator.count(100) == 100
    for _ in range(10):
        calibrator.update(100, 80)
    assert 80 <= calibrator.count(100) <= 82
    for _ in range(20):
        calibrator.update(100, 1000)
    assert calibrator.count(100) <= 150
