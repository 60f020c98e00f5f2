"""Ollama detection: nothing listening, an Ollama-API server, and an OpenAI-compatible server, all on loopback."""

import socket

from course_lib import clients
from course_lib.ollama import ollama_status, pick_phi_model

TAGS = {"models": [
    {"name": "llama3.2:latest", "size": 2019393189, "details": {"quantization_level": "Q4_K_M"}},
    {"name": "phi3.5:latest", "size": 2176178843, "details": {"quantization_level": "Q4_0"}},
]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_server_explains_how_to_get_one(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{free_port()}")
    status = ollama_status(timeout=1)
    assert not status["running"] and status["models"] == []
    assert "ollama run phi3.5" in status["message"] and "OLLAMA_HOST" in status["message"]


def test_ollama_api_lists_models_with_size_and_quantization(monkeypatch, httpserver):
    httpserver.expect_request("/api/tags").respond_with_json(TAGS)
    monkeypatch.setenv("OLLAMA_HOST", httpserver.url_for("/").rstrip("/"))
    status = ollama_status()
    assert status["running"] and status["api"] == "ollama"
    assert status["models"][1] == {"name": "phi3.5:latest", "size_bytes": 2176178843, "quantization": "Q4_0"}
    assert pick_phi_model(status) == "phi3.5:latest"


def test_pick_phi_model_prefers_phi35_then_phi3_then_none():
    def status(*names):
        return {"models": [{"name": n} for n in names]}

    assert pick_phi_model(status("phi3:mini", "phi3.5:3.8b")) == "phi3.5:3.8b"
    assert pick_phi_model(status("phi3:mini")) == "phi3:mini"
    assert pick_phi_model(status("microsoft-phi-4")) == "microsoft-phi-4"
    assert pick_phi_model(status("llama3.2")) is None


def test_same_client_code_chats_with_an_openai_compatible_server_at_ollama_host(monkeypatch):
    from course_lib.serve import local_server

    monkeypatch.setenv("OLLAMA_HOST", local_server().base_url.removesuffix("/v1"))
    status = ollama_status()
    assert status["running"] and status["api"] == "openai-compatible"
    assert "tiny-phi-3.5-mini" in [m["name"] for m in status["models"]]
    reply = clients.chat("What is an SLM?", backend="ollama", model="tiny-phi-3.5-mini", max_tokens=20)
    assert reply.backend == "ollama via openai" and len(reply) > 0
