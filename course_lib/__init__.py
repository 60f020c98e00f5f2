"""course_lib: the helper package behind the SLM course's notebooks.

One concept per module:

corpus      the generated bilingual "textbook" corpus (facts, stories, QA, held-out split)
tokenizer   the shared byte-level BPE tokenizer with Phi-3 chat tokens and template
train       pretraining and supervised fine-tuning loop
build       rebuilds the shipped course models (python -m course_lib build-models)
models      registry of course models: folder, load, describe
messages    chat messages and labelled replies (torch-free, shared by every backend)
generation  chat with a model in-process; next-token distributions
evaluate    held-out perplexity and question accuracy (python -m course_lib eval)
scoring     the one strict scorer: is a reply to a course question or a picture question right, and why not
report      results/*.json -> the README's tables (python -m course_lib report)
claims      claim(): a lesson's sentence about its run, checked against that run
doctor      versions, device, models, backends (python -m course_lib doctor)
backends    which backends exist and whether each is configured / reachable
serve       the local OpenAI-compatible server (transformers serve) for the course models; a room's, with a key
server_process  the server's process: transformers serve's own app behind the learner-routes gate and the key check
loadtest    a room of streaming learners against a server on this machine (python -m course_lib loadtest)
wheelhouse  every wheel in one folder, for installs with no network (python -m course_lib wheelhouse)
clients     any backend -> real openai (and the deprecated azure-ai-inference) clients, model names, retries
errors      the course's exceptions: what went wrong and what to do
family      the Phi family's cited facts and real configs (parameters counted on the meta device)
moe         the course's mixture of experts: its config, and what its router does with each token (lesson 08)
vision_data the synthetic pictures, questions and answers of the vision tasks; vision: the LLaVA-style course
            model, its two training stages and its answers; images: opening and checking images in requests;
heldout_pictures  pictures drawn by painters written apart from vision_data, for evaluation only
onnx_runtime  ONNX Runtime GenAI: export with the model builder, the generation loop (lesson 09)
foundry_local  Foundry Local: find its service (env or CLI), alias -> loaded build; its in-process SDK (lesson 09)
ollama      find a running Ollama server and its models
roofline    memory bandwidth and the decode ceiling; bench: python -m course_lib bench (lesson 10)
real_width  the roofline measured on a Phi-3-mini-wide int4 slice with random weights (lesson 10)
distill     knowledge distillation: a student on a teacher's soft targets (lesson 03)
chatbot     the streaming ipywidgets chatbot; speech: offline text-to-speech with espeak-ng (lesson 11)
site        python -m course_lib site: the lessons executed into a static HTML site
measure     training and generation speed, measured (lesson 02)
quiz        "Check your understanding" quizzes
checks      check() / show_solution() (hidden by COURSE_HIDE_SOLUTIONS): the exercise checker; exercises: one module
            of exercises per lesson
widgets     interactive lesson widgets; plots: the course's figures
paths       where data, models and lessons live
"""

import warnings

# peft reads a transformers attribute that is deprecated; the warning is for library authors, not learners.
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
