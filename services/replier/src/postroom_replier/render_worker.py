"""A child process that renders admin-written templates for the replier and the API.

Run as `python -m postroom_replier.render_worker MEMORY_MB` by `renderer.py`, never by hand.
The operation limits of the sandbox make every single Jinja operation cheap; this process is the
backstop for what they do not foresee: its address space is capped (an allocation beyond it is
a MemoryError, reported as a template error), and its parent kills it when a render runs past
its deadline, which a thread could not do (CPython cannot interrupt one long operation).

Protocol: one JSON object per line on stdin (`subject`, `text`, `html`, `values`), one JSON
object per line on stdout (`subject`, `text`, `html`, or `error` and `budget`). The first line
out is `{"ready": true}`. The process ends when stdin closes; it ignores Ctrl-C (its parent
decides when it stops).
"""

import json
import resource
import signal
import sys
from typing import Any

from postroom_replier.domain.sandbox import render_parts
from postroom_replier.domain.template_limits import TemplateBudgetError, TemplateError


def _answer(request: dict[str, Any]) -> dict[str, Any]:
    try:
        subject, text, html = render_parts(
            request["subject"], request["text"], request.get("html"), request["values"]
        )
    except TemplateBudgetError as exc:
        return {"error": str(exc), "budget": True}
    except TemplateError as exc:
        return {"error": str(exc), "budget": False}
    except MemoryError:
        return {"error": "out of memory", "budget": True}
    return {"subject": subject, "text": text, "html": html}


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    memory = int(sys.argv[1]) * 1024 * 1024 if len(sys.argv) > 1 else 0
    if memory:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    out = sys.stdout
    out.write('{"ready": true}\n')
    out.flush()
    for line in sys.stdin:
        try:
            reply = _answer(json.loads(line))
        except (ValueError, KeyError, TypeError) as exc:
            reply = {"error": f"bad request to the render worker: {exc!r}", "budget": False}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
