"""Interactive views for the notebooks (ipywidgets 8): move a slider, see the model's numbers change.

One module per view; everything public is importable from ``course_lib.widgets``:

- ``TemperaturePreview``    one slider over a fixed next-character distribution (notebook 00's widget check)
- ``SamplingWidget``        temperature, top-k, top-p and min-p over any next-token logits (V,)
- ``AttentionMapWidget``    layer and head sliders over attention weights (L, H, T_q, T_k)
- ``AttentionExplorer``     type a text; a trained character GPT's attention by layer, head, query position
                            and softmax temperature (notebook 01)
- ``PositionalExplorer``    scheme, dimension and position: the encoding, similarity against distance and,
                            for rotary, the rotated query pair (notebook 02; CSS class ``course-positional``)
- ``ArchitectureExplorer``  a published model, or sliders for layers, heads, width and context: parameters,
                            FLOPs per token, memory of the weights and of the KV cache (notebook 03)
- ``AttentionCostExplorer`` image side, patch, frames and attention kind: tokens, FLOPs and memory of one
                            layer against this machine's memory (notebook 07; ``course-attention-cost``)
- ``SamplingPlayground``    prompt, strategy and sliders over the character GPT: the next-token distribution
                            before and after truncation, continuations with log-likelihoods, diversity
                            against quality (notebook 06; CSS class ``course-sampling-playground``)
- ``StepThroughGenerator``  greedy generation one click at a time: next-token bars, the pick, the newest
                            token's attention by layer and head (notebook 04; ``course-step-through``)
- ``CrossAttentionExplorer`` example, layer, head and output step over the dates encoder-decoder: encoder,
                            causal decoder and cross-attention maps (notebook 05; ``course-cross-attention``)
- ``BeamTreeExplorer``      prompt, beams, length penalty: beam search's tree of kept beams (classroom demo)
- ``SelfAssessmentQuiz``    the week's quiz: choose an option, read why it is right or what it misses
                            (notebook 09; ``course-quiz``)
- ``ImageGenerationWidget`` digit, method (raster / MaskGIT), K, temperature and step over the digits
                            models: the drawing appears, and a "sample 20" grid with the judge's verdicts
                            (notebook 07; ``course-image-generation``)

Each view is an ``ipywidgets.VBox``: show it by making it a cell's last value or with ``display(view)``.
The live picture is plain HTML (a table with inline colours, no JavaScript, no network), so a slider
move costs a few milliseconds, and a notebook saved with its widget state still shows the last picture
when it is reopened without a kernel. ``static_figure()`` draws the same state with matplotlib (for
printouts and exported notebooks).

For browser tests: every view's top-level element has the CSS class ``course-widget`` plus one of
``course-temperature-preview``, ``course-sampling``, ``course-attention``, ``course-attention-explorer``,
``course-architecture``; the picture that changes lives in the element with class ``course-widget-output``.
"""

from course_lib.widgets._common import CONTAINER_CLASS, OUTPUT_CLASS
from course_lib.widgets.architecture import ArchitectureExplorer
from course_lib.widgets.attention_cost import AttentionCostExplorer
from course_lib.widgets.attention_explorer import AttentionExplorer
from course_lib.widgets.attention_map import AttentionMapWidget
from course_lib.widgets.beam_tree import BeamTreeExplorer
from course_lib.widgets.cross_attention import CrossAttentionExplorer
from course_lib.widgets.image_generation import ImageGenerationWidget
from course_lib.widgets.positional_explorer import PositionalExplorer
from course_lib.widgets.quiz import SelfAssessmentQuiz
from course_lib.widgets.sampling import SamplingWidget
from course_lib.widgets.sampling_playground import SamplingPlayground
from course_lib.widgets.step_through import StepThroughGenerator
from course_lib.widgets.temperature import TemperaturePreview

__all__ = [
    "CONTAINER_CLASS",
    "OUTPUT_CLASS",
    "ArchitectureExplorer",
    "AttentionCostExplorer",
    "AttentionExplorer",
    "AttentionMapWidget",
    "BeamTreeExplorer",
    "CrossAttentionExplorer",
    "ImageGenerationWidget",
    "PositionalExplorer",
    "SamplingPlayground",
    "SamplingWidget",
    "SelfAssessmentQuiz",
    "StepThroughGenerator",
    "TemperaturePreview",
]
