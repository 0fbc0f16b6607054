"""Renderers turn drawn variants into LaTeX, PDFs and text. Exactly one function runs LaTeX:
examforge.renderers.compile.run_pdflatex."""
