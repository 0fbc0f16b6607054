"""Drills: endless checked variants of any question type, in the terminal (`examforge drill`)
and in the browser (`examforge serve`).

    exercise.py  (type, seed, difficulty, form) -> the exercise; the difficulty mapping
    answers.py   answer formats from `choice_value`, reading (bounded, linear) and checking answers
    latexnodes.py our LaTeX fragments as a small tree, read with pylatexenc's walker
    markup.py    that tree as HTML (math left to KaTeX)
    plaintext.py that tree as Unicode text for the terminal (formulas through pylatexenc); figures
                 are drawn from their model (examforge.figures), never from LaTeX
    terminal.py  the terminal drill; history.py its SQLite memory of misses
    web.py       the Starlette app: the page, static KaTeX and the JSON API
    server.py    `examforge serve`: the app under uvicorn, with request timeouts and size limits
"""


def configure_torch() -> None:
    """One intra-op thread: our tensors are tiny, and more threads only add overhead and
    contention between concurrent requests (measured: 10x slower draws with 2 threads)."""
    import torch

    torch.set_num_threads(1)
