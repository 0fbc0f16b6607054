"""Drills: endless checked variants of any question type, in the terminal (`examforge drill`)
and in the browser (`examforge serve`).

    exercise.py  (type, seed, difficulty, form) -> the exercise; the difficulty mapping
    answers.py   answer formats from `choice_value`, reading (bounded, linear) and checking answers
    markup.py    our LaTeX fragments parsed into a small tree, and as HTML (math left to KaTeX)
    plaintext.py the same tree as Unicode text for the terminal (figures: examforge.figures,
                 from the model the templates print as data, never from LaTeX)
    terminal.py  the terminal drill; history.py its SQLite memory of misses
    web.py       the Starlette app: the page, static KaTeX and the JSON API
    server.py    `examforge serve`: the app under uvicorn, with request timeouts and size limits
"""
