"""Interactive lesson widgets. Every callback is a plain method, so CI can drive it by code."""

from __future__ import annotations

import matplotlib.pyplot as plt
from IPython.display import display

from course_lib.generation import chat, top_next_tokens
from course_lib.i18n import t
from course_lib.plots import plot_next_tokens


class NextTokenPlayground:
    """Type a prompt, move the sampling sliders, see the next-token distribution and a sampled reply.

    `update()` is what every slider and the text box call; lessons and tests call it directly.
    """

    def __init__(self, model, tok, model_name: str, prompt: str = "Once upon a time, there was a"):
        import ipywidgets as w

        self.model, self.tok, self.model_name = model, tok, model_name
        self.prompt = w.Textarea(value=prompt, description=t("prompt"), layout=w.Layout(width="95%"))
        self.temperature = w.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.1, description="temperature")
        self.top_k = w.IntSlider(value=0, min=0, max=50, description=t("top-k (0=off)"))
        self.top_p = w.FloatSlider(value=1.0, min=0.05, max=1.0, step=0.05, description="top-p")
        self.chart = w.Output()
        self.reply = w.HTML()
        self.sample_button = w.Button(description=t("Sample a chat reply"))
        for control in (self.prompt, self.temperature, self.top_k, self.top_p):
            control.observe(lambda _: self.update(), names="value")
        self.sample_button.on_click(lambda _: self.sample_reply())
        self.last = []
        self.view = w.VBox([self.prompt, w.HBox([self.temperature, self.top_k, self.top_p]),
                            self.chart, w.HBox([self.sample_button]), self.reply])

    def update(self, k: int = 10) -> list[tuple[str, float]]:
        """Recompute the distribution for the current prompt and settings, and redraw the chart."""
        self.last = top_next_tokens(self.model, self.tok, self.prompt.value, k=k, temperature=self.temperature.value,
                                    top_k=self.top_k.value, top_p=self.top_p.value)
        settings = f"T={self.temperature.value:.1f}, top-k={self.top_k.value or t('off')}, top-p={self.top_p.value:.2f}"
        with self.chart:
            self.chart.clear_output(wait=True)
            title = t("{model}: next token ({settings})", model=self.model_name, settings=settings)
            fig = plot_next_tokens(self.last, title=title)
            display(fig)
            plt.close(fig)  # displayed once, inside the widget
        return self.last

    def sample_reply(self, seed: int = 0) -> str:
        """Ask the prompt as a chat question with the current sampling settings."""
        text = chat(self.model, self.tok, self.prompt.value, max_new_tokens=60, temperature=self.temperature.value,
                    top_k=self.top_k.value, top_p=self.top_p.value, seed=seed)
        self.reply.value = t("<b>{model}</b> (a tiny course model) says: {text}", model=self.model_name, text=text)
        return text

    def _ipython_display_(self):
        self.update()
        display(self.view)
