"""Coded, actionable error and warning messages (spaCy's ``ErrorsWithCodes`` style).

Every user-facing exception raised by spacy-gner takes its text from here, so a
code such as ``[E010]`` can be searched for. Ranges: E0xx foundation (schema,
corpora, scoring, CLI), E1xx ``gner_generator``, E2xx ``unmasked_llm_tagger``,
E3xx ``knowfree_spans``, E4xx the spacy-llm workflow, E5xx constrained decoding.

The messages are two tables (warnings, errors): a line starting with a code opens a
message, indented lines continue it (joined with one space), ``#`` lines are section
headings and ``\\n`` is a line break. ``Errors.E010`` is the message with its code:
``"[E010] ..."``.
"""

from typing import Dict


class ErrorsWithCodes(type):
    def __getattribute__(self, code):
        msg = super().__getattribute__(code)
        if code.startswith("__"):
            return msg
        return f"[{code}] {msg}"


def _messages(table: str) -> Dict[str, str]:
    """``{code: message}`` from a table (see the module docstring)."""
    out: Dict[str, str] = {}
    code = ""
    for line in table.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line[:1].isspace():
            out[code] += " " + line.strip()
        else:
            code, _, text = line.partition(" ")
            if code in out:  # a code given twice would silently replace the first message
                raise ValueError(f"spacy_gner.errors: message code {code} is defined twice")
            out[code] = text
    return {code: text.replace("\\n", "\n") for code, text in out.items()}


Warnings = ErrorsWithCodes(
    "Warnings",
    (),
    _messages(
        r"""
# --- foundation ---
W001 Repaired {n} invalid BIO tag(s) in {where} ({examples}): an I-x without its B-x, or a type switch
    inside an entity, now opens a new entity. No word was dropped.
W002 The label list of {source} lacks the type(s) {missing} used in the annotation; they were appended to
    the label list.
W010 The base model {path} of component {name!r} no longer exists: the saved pipeline will not load until
    it is back there or the load config names another copy.
# --- annotate (W07x) ---
W070 --labels was given but no component of the pipeline takes entity types at run time (factory
    gner_generator); the labels are ignored.
W071 Interrupted: {done} of {shards} shards are complete in {output}. Rerun the same command to resume;
    complete shards are skipped, the others are redone.
# --- gner_generator (W1xx) ---
W100 {n} prompt(s) of {docs} document(s) are longer than max_source_length={limit} tokens with all {k}
    entity types: the types were split into groups of at most {size} run separately and merged (slower).
    Raise max_source_length (within the model's limit) or lower window_words to prompt them together.
W101 {docs} document(s) have a sentence longer than window_words={limit} words: they were cut into
    windows sharing window_overlap={overlap} words, labelled separately and merged. Raise window_words
    to see more context at once.
W102 threshold={threshold} is set but free decoding gave no score for {n} chunk(s) (the tokenizer could
    not be aligned with the target): their entities are kept whatever their score would be.
W103 Free decoding stopped {n} sentence(s) in {docs} document(s) at their generation budget before the end
    token ({capped} of them at max_target_length={limit} tokens, the others at about twice the sentence's
    own length): the words not yet written were tagged O. Raise max_target_length (or lower window_words)
    when it cut them; a model that does not stop writing needs training, or decoding = "constrained",
    which tags every word.
W104 gner_generator training: of {total} training chunk(s) in a batch, {n_src} prompt(s) are longer than
    max_source_length={src} tokens and {n_tgt} target(s) longer than max_target_length={tgt}: the loss
    sees them cut (later batches are not reported). Raise the limits or lower window_words.
# --- unmasked_llm_tagger (W2xx) ---
W200 {docs} document(s) are longer than max_length={limit} sub-tokens: they were cut into windows sharing
    window_overlap={overlap} words, tagged separately and merged. Raise max_length to see more context
    at once.
W201 {n} word(s) in {docs} document(s) have more than max_length - 1 = {limit} sub-tokens: only their
    first {limit} sub-tokens reach the model (their tag is read from the first one). Raise max_length.
# --- knowfree_spans (W3xx) ---
W301 knowfree_spans scores spans of at most {width} words (max_span_width {setting!r}), but {n_target}
    gold target span(s) (e.g. {examples}) and {n_ext} extension span(s) of the training data are longer:
    they are not learned and cannot be predicted. Raise max_span_width (0 = every width) if they matter.
W305 knowfree_spans cut {docs} document(s) into windows of max_length={limit} words sharing
    chunk_overlap={overlap} words ({why}), scored separately and merged. Add sentence boundaries (a senter,
    parser or sentencizer before it) or raise the model's max_length to score more words at once.
# --- spacy-llm workflow (W4xx) ---
W401 {n} of {total} items in the LLM responses of task {task!r} could not be aligned to the text (first
    ones: {examples}). They were counted and skipped; see the report.
W402 No frozen pipeline given (--frozen-pipeline): the explanation sentences are written to {path}
    without target annotation, and no synthetic .spacy corpus is written. Train knowfree_spans on the
    fused corpus first, then rerun with that pipeline.
W403 The sentence encoder {name!r} could not be loaded through sentence-transformers ({err}); falling
    back to transformers with mean pooling.
# --- constrained decoding (W5xx) ---
W500 Constrained decoding stopped {n} sentence(s) at max_new_tokens={limit} before their last word
    (first: {example!r}): the words after the cut were tagged O. Leave the cap out (the budget then
    comes from each sentence) or raise it.
# --- issue 23: servers, packaging, progress (W60x) ---
W600 Could not read the base model's licence/source for {path} ({problem}); meta.json says "unknown".
    Pass --license to state it.
W601 {n} entity answer(s) of the LLM named a type outside the task's labels (only_labels = true; e.g.
    {examples}): they were dropped and counted as unknown_types in the report. Add those types to labels
    (a {{code: name}} mapping maps a name back to its code), or set only_labels = false to keep them as
    extension types.
"""
    ),
)

Errors = ErrorsWithCodes(
    "Errors",
    (),
    _messages(
        r"""
# --- foundation: schema ---
E001 Entity label {label!r} contains '(' or ')'. GNER writes labels in parentheses after each word, so
    such a label could never be parsed back. Rename it (e.g. replace the brackets with '-').
E002 Got {n_words} words but {n_tags} tags: every word needs exactly one BIO tag.
E003 Invalid BIO tag {tag!r} at position {i}: expected 'O', 'B-<type>' or 'I-<type>'.
E004 Span ({start}, {end}, {label!r}) is out of range for a sentence of {n} words.
E005 Spans ({a}) and ({b}) overlap: BIO tags can only encode non-overlapping spans. Use doc.spans
    (nested) instead of doc.ents for overlapping entities.
E006 Entity label {label!r} is empty or only whitespace.
E007 The prompt template must contain the placeholders {{labels}} and {{sentence}}; got: {template!r}
# --- foundation: corpora ---
E010 {path}:{line}: {problem}. Expected one 'word<TAB>BIO-tag' pair per line and a blank line between
    sentences.
E011 {path}:{line}: {problem}
E012 Corpus file or directory not found: {path}
E013 Unknown corpus format for {path}: use .txt/.conll/.bio (word<TAB>tag), .jsonl/.json with GNER
    records, or .jsonl/.jsonlines with span records ('tokens' + 'entity_mentions'), or pass --format
    explicitly.
E014 'limit' must be >= 0, got {limit}.
E015 Unknown corpus format {fmt!r}: choose auto, {formats}.
E016 Cannot read {path} as a .spacy file (DocBin): {err}
E017 Input files {a} and {b} would both be written to {out}: convert them into separate output
    directories or rename one.
E018 {path} would be overwritten by its own conversion: choose another output directory.
# --- foundation: scoring / CLI ---
E020 Unknown scoring mode {mode!r}: choose from {modes}.
E021 No documents to evaluate in {path}.
E022 Pipeline {name!r} has no component that writes {attr}; add one or pass --spans-key.
E023 Cannot load pipeline {name!r}: {err} Give a pipeline directory (written by nlp.to_disk() or 'spacy
    train') or the name of an installed pipeline package.
E024 Give the entity types with --labels or with --labels-file, not both.
E025 Labels file {path}: {problem}. Expected one entity type per line (blank lines and lines starting
    with '#' are skipped) or a JSON list of strings.
E030 Entity labels must be a list of strings, got the single string {labels!r}: a bare string would
    become one label per character. Pass [{labels!r}] instead.
E031 {what} must be {rule}, got {value!r}.
E032 The output path {path} {problem}: {hint}
E033 Cannot read {path}: {problem}
E034 No model checkpoint at {path}: the directory does not exist. Give an existing local directory
    (written by save_pretrained) or a hub name such as 'org/model'.
E035 The model directory {path} has no tokenizer files (tokenizer.json, tokenizer_config.json,
    spiece.model, tokenizer.model or vocab files): save the tokenizer next to the weights with
    tokenizer.save_pretrained().
E036 Cannot load the model in {path}: {err}
E037 {path} holds no documents: nothing to write.
E038 {what} {path} does not exist.
# --- foundation: GNER prediction files / score / zero-shot table ---
E060 {path}:{line}: {problem}. A GNER prediction record is a JSON object with 'dataset', 'label_list'
    (type names), 'instance' ('words' and 'labels', one BIO tag per word) and the generated 'prediction'
    text.
E061 Prediction file not found: {path}
E062 No prediction records in {paths}: give JSONL files (one record per line) or .json files holding a
    list of records, as 'evaluate --save-generations' writes them.
E063 Cannot load the tokenizer {name!r}: {err} Give a hub name or a local directory holding the tokenizer
    files, or leave out --tokenizer (no back-tokenization).
E064 --save-generations needs a pipeline with one gner_generator using decoding = 'free' (the file holds
    the raw generations); {name!r} has {found}.
E065 No zero-shot test set under {path}: expected one or more of the folders {names}, each holding
    test.txt and label.txt (the GNER data release layout).
# --- annotate (E07x-E08x) ---
E070 Input {path} matches no file. Give a JSONL or Parquet file, a text file with one document per line,
    a directory of them or a glob such as 'data/*.jsonl'.
E071 No documents in {path}: every input file is empty (blank lines are not documents).
E072 {output} holds the shards of a different annotate run ({why}). Choose another OUTPUT directory, or
    pass --overwrite to delete those shards and start again.
E073 {output} exists and is not a directory.
E074 --engine ray needs Ray Data, which is not installed: pip install "spacy-gner[ray]" (or pip install
    "ray[data]").
E075 Unknown {option} {value!r}: choose {choices}.
E076 {option} must be at least {minimum}, got {value}.
E077 No input file could be read; the first: {file}: {reason}
E078 {what} needs pyarrow, which is not installed: pip install pyarrow (it comes with pip install
    "spacy-gner[ray]").
# reasons written to OUTPUT/errors.jsonl, one per bad input line or file
E080 not valid JSON ({err})
E081 not a JSON object (got {kind})
E082 no field {field!r}
E083 field {field!r} is {kind}, not a string
E084 not valid UTF-8 ({err})
E085 cannot read the file ({err})
# --- gner_generator (E1xx) ---
E101 Component {name!r} has no backbone loaded yet. Call nlp.initialize() (which loads
    [components.{name}.model.name], a hub name or local directory) or load a saved pipeline with
    spacy.load().
E102 Component {name!r} holds a Hugging Face model and serializes to a directory only: use
    nlp.to_disk()/spacy.load() instead of to_bytes()/from_bytes().
E103 decoding={decoding!r} is not available: choose 'free' or 'constrained'.
E104 The saved component {name!r} in {path} is damaged: {problem}. Save the pipeline again with
    nlp.to_disk().
E120 Entity type names must be distinct: {a!r} and {b!r} are both named {name!r}, so the model's answer
    {name!r} could not be mapped back to one code.
E121 The prompt for a chunk of {words} words with the single entity type {label!r} is {length} tokens,
    more than max_source_length={limit}: the sentence itself does not fit. Lower window_words (now
    {window}) or raise max_source_length.
# --- unmasked_llm_tagger (E2xx) ---
E201 Unmasking config {config!r} must be a string of '0'/'1' with one digit per layer group ({groups}
    groups; first digit = group nearest the input), e.g. '0110', or a list of layer indices.
E202 Cannot split {n} decoder layers into {groups} groups: use fewer groups.
E203 Unmasking layer indices {layers} are out of range for a model with {n} layers.
E204 apply_unmasking supports decoder-only models of the types {supported}; got
    model_type={model_type!r}. Other architectures are refused rather than silently left causal.
E205 attn_implementation={impl!r} ignores custom attention masks, so layers cannot be unmasked. Load the
    model with attn_implementation='sdpa' or 'eager'.
E206 QLoRA (quantization='nf4') needs a CUDA device and the bitsandbytes package; {reason}. Use
    quantization = null on CPU.
E207 Component {name!r} has no model loaded yet: call nlp.initialize() or spacy.load() a trained
    pipeline.
E208 The saved component {name!r} in {path} is damaged: {problem}. Save the pipeline again with
    nlp.to_disk().
E209 The base model {path!r} of the saved component {name!r} is not available: {problem}. Install it
    there, or point to it at load time with spacy.load(path, config={{'components': {{{name!r}:
    {{'model': {{'name': NEW_PATH}}}}}}}}).
# --- knowfree_spans (E3xx) ---
E301 knowfree_spans mode must be 'nested' or 'flat', got {mode!r}.
E302 knowfree_spans extension_max_weight must be a positive number or null (null caps each extension
    weight at targets / all labels), got {value!r}.
E303 The saved component {name!r} in {path} is damaged: {problem}. Save the pipeline again with
    nlp.to_disk().
E310 knowfree_spans found no target span in the {n} training examples: neither doc.spans[{key!r}] nor
    doc.ents holds any (span keys present: {keys}). Set the component's spans_key to the key your data
    uses, or annotate some entities.
E311 knowfree_spans max_span_width must be "auto" (from the training data), 0 (every width, the full L×L
    matrix) or a positive number of words, got {value!r}.
E312 knowfree_spans min_train_width must be a whole number of words, 0 or more (0: train at the
    prediction width), got {value!r}.
# --- spacy-llm workflow (E4xx) ---
E401 Unknown language {lang!r} for the spacy-gner LLM tasks: choose from {langs}, or pass your own prompt
    with the task's 'template' setting.
E402 Cannot read the prompt template {path!r}: {err}
E403 Unknown augmentation step {step!r}: choose from {steps}.
E404 The model config {path} has no [model] section. It needs a block such as\n[model]\n@llm_models =
    "spacy_gner.HFCausalLM.v1"\nname = "HuggingFaceTB/SmolLM2-135M-Instruct"
E405 alignment_mode must be 'strict', 'contract' or 'expand', got {mode!r}.
E406 The frozen pipeline {path} has no knowfree_spans (or other span/entity) component to annotate the
    explanation sentences with.
E407 The model returned {n_responses} responses for {n_prompts} prompts: a spacy-llm model must yield
    exactly one response per prompt.
E408 The merge rule needs eps > 0 and p >= 1, got eps={eps}, p={p}.
# --- constrained decoding (E5xx) ---
E501 The tokenizer cannot encode the tag piece 'O)', so no tag can be decoded: use a tokenizer that
    covers '(' and ')' and ASCII letters (any byte-level one does).
E502 constrained_decode got {n_prompts} prompts, {n_words} word lists and {n_labels} label lists: give
    one of each per sentence.
E503 constrained_decode got {n_ids} prompt_ids for {n_prompts} prompts: give one id list per prompt, or
    leave prompt_ids out.
E504 constrained_decode needs beam_size >= 1 (1 = greedy), got {beam_size}.
E505 constrained_decode method must be 'greedy' (with beam_size 1) or 'beam', got {method!r} with
    beam_size {beam_size}.
E506 Internal error in constrained decoding: a token was decoded after the end of the target. Please
    report it with the model and tokenizer used.
E520 The tags {a!r} and {b!r} tokenize to the same ids (or one to a prefix of the other's) with this
    tokenizer, so constrained decoding could not tell them apart: rename one of the two labels with
    characters the tokenizer keeps (e.g. ASCII letters).
# --- issue 23: servers, packaging, progress (E60x) ---
E600 spacy_gner.OpenAICompatible.v1 setting {what!r} must be {rule}, got {value!r}.
E601 The LLM server at {endpoint} refused the request with HTTP {status}: {detail}. Check the model name
    ({name!r}), the endpoint and the API key (env {key_env}).
E602 The LLM server at {endpoint} answered with something that is not an OpenAI-style completion
    ({problem}). Point 'endpoint' at /v1/chat/completions or /v1/completions.
E603 The LLM server at {endpoint} did not answer after {tries} tries ({problem}). Is the server running?
    Raise max_tries, interval or max_request_time for a slow server.
E604 The evaluation file {path} is not usable: {problem}. Give the JSON written by python -m spacy_gner
    evaluate --output.
"""
    ),
)
