"""Syntax tree to typed graph: blocks, repetition, merges, naming and shape inference.

Expansion and shape inference are one walk because the language lets a width depend on
the shapes so far (`x{C*6}`: `C` is the channel count entering the step). Each step is
turned into a layer by the catalogue as soon as its input shape is known, so every error
can point at the step that caused it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from math import prod

from ..errors import CnnError, Diagnostic, Span
from ..graph.ir import Graph, Group, Node
from ..layers import GLOBAL, MERGES, Input, Layer, LayerError, lookup, rank_word
from ..layers.arguments import ArgReader
from ..layers.rearrange import Part
from ..layers.shapes import Shape, format_shape
from ..support.limits import MAX_ELEMENTS, MAX_LAYERS, MAX_NESTING
from ..syntax import ast
from ..syntax.expr import budget
from . import blocks, pruning, splitting
from .blocks import Env
from .scopes import Scope
from .sizing import Sizer

NO_INPUT = -1  # where a statement without `input` starts: only `@NAME` can follow
Made = tuple[Layer, Shape, tuple[tuple[str, str], ...]]  # a layer, its shape, its warnings


@dataclass
class _Builder:
    source: str
    definitions: dict[str, blocks.Definition]
    nodes: list[Node] = field(default_factory=list)
    names: dict[str, Span] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    warnings: dict[tuple[int, str], Diagnostic] = field(default_factory=dict)
    depth: int = 0
    identities: int = 0  # `id` branches expanded: each counts as a layer, as before expanding
    made: dict[tuple, Made] = field(default_factory=dict)  # layer steps read, by `reading`
    scope: Scope = field(default_factory=Scope)  # the named tensors visible now
    dropped: dict[int, Span] = field(default_factory=dict)  # results `-> @NAME` went past
    groups: list[Group] = field(default_factory=list)  # block uses and repeats, for drawing
    tensors: list[tuple[int, str]] = field(default_factory=list)  # the file's `as NAME`s


    # -- chains and steps ---------------------------------------------------------------
    def chain(self, chain: ast.Chain, src: int, env: Env, scope: int) -> int:
        for i, step in enumerate(chain.steps):
            if i and _starts_from_name(step):  # `... -> conv as a -> @stem`: src is dropped
                self.dropped.setdefault(src, step.span)
            src = self.step(step, src, env, scope)
        return src

    def step(self, step: ast.Step, src: int, env: Env, scope: int) -> int:
        if isinstance(step, ast.Bound):
            out = self.step(step.step, src, env, scope)
            self.bind(step.name, out, step.name_span)
            return out
        if isinstance(step, ast.Ref):
            return self.scope.lookup(step)
        if src == NO_INPUT and not isinstance(step, ast.Merge):
            raise CnnError("a statement starts with `input`, with `@NAME`, or with a merge "
                           "whose branches all start with `@NAME`", step.span,
                           "start from a named tensor: `@features -> ...`")
        if isinstance(step, ast.Merge):
            return self.nested(self.merge, step, src, env, scope)
        if isinstance(step, ast.Repeat):
            return self.nested(self.repeat, step, src, env, scope)
        if isinstance(step, ast.Call):
            return self.nested(self.call, step, src, env, scope)
        if step.word in self.definitions:
            call = ast.Call(step.word, (), (), step.span, step.word_span)
            if step.args:
                raise CnnError(f"block `{step.word}` takes its arguments in parentheses",
                               step.args[0].span, f"write `{step.word}(...)`")
            return self.nested(self.call, call, src, env, scope)
        return self.layer(step, src, env)

    def nested(self, walk, step, src: int, env: Env, scope: int) -> int:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise CnnError(f"blocks, merges and repeats nest deeper than {MAX_NESTING} levels",
                           step.span, "nest less: a block that uses a block that uses a "
                           "block... counts each level")
        try:
            return walk(step, src, env, scope)
        finally:
            self.depth -= 1

    def layer(self, step: ast.Layer, src: int, env: Env) -> int:
        if step.word == "id":
            raise CnnError("`id` stands only for a whole branch of a merge", step.word_span,
                           "write `add { id | ... }` or `residual { ... }`")
        kind = lookup(step.word)
        if kind is None:
            raise self.unknown_step(step)
        return self.add_node(kind, step, step.args, (src,), env, step.word)

    def unknown_step(self, step: ast.Layer) -> CnnError:
        from ..layers.spellings import unknown_step_hint

        return CnnError(f"unknown step `{step.word}`", step.word_span,
                        unknown_step_hint(step, list(self.definitions)))

    # -- counting before making ---------------------------------------------------------
    @cached_property
    def sizer(self) -> Sizer:
        return Sizer({name: (d.index, d.node) for name, d in self.definitions.items()},
                     blocks.value)

    def check_size_of(self, body: ast.Chain | None, scope: int) -> None:
        """Refuse a network whose steps will make too many layers, before making any:
        `( conv 1 x1 ) * 1000000000`, or blocks that repeat each other forty deep. The
        repeats inside blocks are checked again with their parameters known."""
        total = 1  # the input
        for step in body.steps if body is not None else ():
            total += self.sizer.step(step, {}, scope)
            if total > MAX_LAYERS:
                raise self.too_many(step.span)

    def too_many(self, span: Span) -> CnnError:
        return CnnError(f"the network would have more than {MAX_LAYERS:,} layers after "
                        "expansion", span, "reduce a `* N` repetition or block use"
                        + ("; each `id` branch counts as a layer"
                           if self.identities or self.sizer.identities else ""))

    # -- making a node ------------------------------------------------------------------
    def add_node(self, kind: type[Layer], step, args, inputs: tuple[int, ...], env: Env,
                 word: str, text: str | None = None, number: int | None = None,
                 name: str | None = None, made: Made | None = None) -> int:
        if len(self.nodes) + self.identities >= MAX_LAYERS:
            raise CnnError(f"the network has more than {MAX_LAYERS:,} layers after "
                           "expansion", step.span, "reduce a `* N` repetition or block use"
                           + ("; each `id` branch counts as a layer" if self.identities
                              else ""))
        in_shapes = tuple(self.nodes[i].shape for i in inputs)
        span = step.span
        if in_shapes and len(in_shapes[0]) not in kind.ranks:
            raise self.rank_error(kind, word, in_shapes[0], span)
        key = self.reading(word, args, in_shapes, env) if made is None else None
        made = self.made.get(key) if key is not None else made
        if made is None:
            from_input = bool(inputs) and self.nodes[inputs[0]].kind == "input"
            made = self.make(kind, args, in_shapes, env, word, span, from_input)
            if key is not None:
                if len(self.made) >= 4096:  # steps that never repeat keep no memory
                    self.made.clear()
                self.made[key] = made
        layer, shape, warnings = made
        name = self.name_of(layer, args, span, number, name)
        for message, hint in warnings:
            self.warn(message, span, hint)
        if inputs and self.nodes[inputs[0]].kind == "input":
            self.warn_no_channels(self.nodes[inputs[0]], layer, word)
        if text is None:
            written = " ".join(self.source[span.start:span.end].split())
            # Inside a block `conv 1/{s} x{4*f}` says less than what it became.
            text = layer.describe() if "{" in written else written
        self.nodes.append(Node(len(self.nodes), name, layer, inputs, in_shapes, shape, span,
                               text))
        return len(self.nodes) - 1

    def make(self, kind: type[Layer], args, in_shapes, env: Env, word: str,
             span: Span, from_input: bool = False) -> Made:
        local = dict(env)
        if in_shapes:
            local["C"] = in_shapes[0][-1]
        reader = ArgReader(word, args, local, span,
                           rank_word(in_shapes[0]) if in_shapes else "", lookup)
        if from_input:  # for the hint on `input 28x28 -> conv 3x3`
            reader.input_shape = in_shapes[0]
        try:
            layer = kind.read(reader, in_shapes)
            reader.finish(kind.options)
            shape = layer.output_shape(in_shapes)
        except LayerError as e:
            raise CnnError(e.message, e.span or span, e.hint,
                           layer_notes(kind, in_shapes)) from None
        self.check_size(shape, span)
        warnings = tuple(getattr(layer, "warnings", lambda _: [])(in_shapes))
        return layer, shape, warnings

    def reading(self, word: str, args, in_shapes, env: Env) -> tuple | None:
        """What a layer step's result depends on: its word, its arguments as written
        (but its name), its input shapes, and the block parameters if it uses any. Steps
        alike (`( conv 3 x64 ) * 50`, or written out line after line) are read once."""
        if len(in_shapes) != 1:
            return None  # the input, and merges: one of each is made per place
        written = tuple(self.source[a.span.start:a.span.end] for a in args
                        if not (isinstance(a, ast.Option) and a.key == "name"))
        parameters = (tuple(sorted(env.items())) if any("{" in w for w in written)
                      else None)
        return word, written, in_shapes, parameters

    def rank_error(self, kind: type[Layer], word: str, shape: Shape, span: Span) -> CnnError:
        accepted = [rank_word((0,) * r) for r in kind.ranks]
        got = (f"a vector of {shape[0]} values" if len(shape) == 1
               else f"a {rank_word(shape)} tensor {format_shape(shape)}")
        hint = ("`flatten` and `gap` make vectors; move them later, or `reshape` first"
                if len(shape) == 1 else "`reshape` to the rank it needs")
        listed = ", ".join(accepted[:-1]) + " or " + accepted[-1] if len(accepted) > 1 \
            else accepted[0]
        return CnnError(f"`{word}` needs a {listed} input, but gets {got}",
                        span, hint)

    def check_size(self, shape: Shape, span: Span) -> None:
        if prod(shape) > MAX_ELEMENTS:
            raise CnnError(f"tensor {format_shape(shape)} has {prod(shape):,} elements, over "
                           "the limit of 2^31", span, "reduce the input size or the widths")

    def name_of(self, layer: Layer, args, span: Span, number: int | None,
                given: str | None = None) -> str:
        """`name=` if given, else the input's (`input`, or its tensor's name when there
        are several) or KIND_N; only automatic names use numbers."""
        explicit = _explicit_name(args)
        if explicit is not None:
            name, where = explicit.name, explicit.span
        elif given is not None or layer.kind == "input":
            name, where = given or "input", span
        else:
            if number is None:
                number = self.counters[layer.stem] = self.counters.get(layer.stem, 0) + 1
            name, where = f"{layer.stem}_{number}", span
        if name in self.names:
            first = self.names[name]
            raise CnnError(f"duplicate layer name `{name}`", where,
                           "names must be unique; inside a block used several times, "
                           "leave `name=` out", [f"first used at line {first.line}, "
                                                 f"column {first.column}"])
        self.names[name] = where
        return name

    def warn_no_channels(self, source: Node, layer: Layer, word: str) -> None:
        """`input 28x28 -> conv 3 x8` is legal (28 positions of 28 channels) but is most
        likely a grey image without its channel axis: a square 1-D input read by a layer
        that slides a window over it."""
        shape = source.shape
        window = layer.window((shape,))
        if len(shape) == 2 and shape[0] == shape[1] and window is not None \
                and window is not GLOBAL:
            self.warn(f"`input {format_shape(shape)}` has no channel axis: `{word}` reads it "
                      f"as {shape[0]} positions of {shape[1]} channels (1-D)", source.span,
                      f"for a {format_shape(shape)} image with one channel, write "
                      f"`input {format_shape((*shape, 1))}`")

    def warn(self, message: str, span: Span, hint: str | None = None) -> None:
        self.warnings.setdefault((span.start, message), Diagnostic(message, span, hint))

    def bind(self, name: str, node: int, span: Span) -> None:
        """`as NAME`: visible in its scope; in the file's, also a name the user reads and
        writes by (`cnndsl run`'s arrays, the diagrams)."""
        self.scope.bind(name, node, span)
        if self.scope.block is None:
            self.tensors.append((node, name))

    # -- statements ---------------------------------------------------------------------
    def statement(self, statement: ast.Statement, several: bool, scope: int) -> int:
        """Expand one statement in the file's scope; returns the node it ends with."""
        src = NO_INPUT
        if statement.input is not None:
            head, binding = statement.input, statement.binding
            src = self.add_node(Input, head, head.args, (), {}, "input",
                                name=binding.name if several and binding else None)
            if binding is not None:
                self.bind(binding.name, src, binding.span)
        if statement.body is not None:
            src = self.chain(statement.body, src, {}, scope)
        return src

    def outputs(self, module: ast.Module, last: int) -> tuple[int, ...]:
        """`output @a, @b` in the file's scope, or the last statement's result."""
        if not module.outputs:
            return (last,)
        found: dict[int, ast.Ref] = {}
        for ref in module.outputs:
            node = self.scope.lookup(ref)
            if node in found:
                raise CnnError(f"`@{ref.name}` is listed twice as an output", ref.span,
                               "list each output once")
            found[node] = ref
        return tuple(found)

    # -- structure ----------------------------------------------------------------------
    def merge(self, step: ast.Merge, src: int, env: Env, scope: int) -> int:
        op = "add" if step.op == "residual" else step.op
        if step.op == "residual" and len(step.branches) != 1:
            raise CnnError("`residual` takes exactly one branch", step.op_span,
                           "for several branches write `add { id | A | B }`")
        kind = MERGES[op]
        branches = (None, *step.branches) if step.op == "residual" else step.branches
        parts = splitting.parts(step, self.nodes[src].shape if src != NO_INPUT else None, env)
        outputs = []
        # Numbers are reserved where the merge is written, before its branches.
        reserved, explicit = None, _explicit_name(step.args)
        if explicit is None:
            reserved = self.counters[op] = self.counters.get(op, 0) + 1
        for i, branch in enumerate(branches):  # a split's branch starts from its part
            start = src if not parts else self.add_node(
                Part, branch, (), (src,), env, "part", parts[i][0].describe(), made=parts[i],
                name=f"{explicit.name if explicit else f'{op}_{reserved}'}_{i + 1}")
            if src == NO_INPUT and (branch is None or not _starts_from_name(branch.steps[0])):
                where = branch.span if branch is not None else step.op_span
                raise CnnError("this merge starts a statement, so it has no input: each of "
                               "its branches starts with `@NAME`", where,
                               "write `" + op + " { @a | @b -> ... }`" if branch is None
                               or not _is_identity(branch) else
                               "`id` has no meaning here: name the tensor, `@NAME`")
            if branch is None or _is_identity(branch):
                self.identities += branch is not None
                outputs.append(start)
            else:
                outputs.append(self.chain(branch, start, env, scope))
        return splitting.sized(self.nodes, parts, self.add_node(
            kind, step, step.args, tuple(outputs), env, op,
            text=splitting.written(step, parts), number=reserved))

    def repeat(self, step: ast.Repeat, src: int, env: Env, scope: int) -> int:
        env_c = {**env, "C": self.nodes[src].shape[-1]}
        count = blocks.integer(step.count, env_c, "a repeat count")
        made = len(self.nodes) + self.identities
        if made + count * self.sizer.chain(step.body, env, scope) > MAX_LAYERS:
            raise self.too_many(step.span)
        start = len(self.nodes)
        for _ in range(count):
            src = self.chain(step.body, src, env, scope)
        self.group(start, step.span, count)
        return src

    def group(self, start: int, span: Span, count: int = 1) -> None:
        """Remember the nodes made since `start` as one use of a block or repeat."""
        if len(self.nodes) > start:
            text = " ".join(self.source[span.start:span.end].split())
            self.groups.append(Group(start, len(self.nodes), text, count, span))

    def call(self, step: ast.Call, src: int, env: Env, scope: int) -> int:
        found = self.definitions.get(step.name)
        if found is None:
            raise self.unknown_step(ast.Layer(step.name, (), step.span, step.name_span))
        if found.index >= scope:
            what = "itself" if found.index == scope else f"`{step.name}`, defined below it"
            raise CnnError(f"recursive block: a block cannot use {what}", step.name_span,
                           "a block may use only blocks defined above it")
        here = {**env, "C": self.nodes[src].shape[-1]}
        bound, tensors = blocks.bind(found.node, step, here, self.scope)
        outer, self.scope = self.scope, tensors
        start = len(self.nodes)
        try:
            out = self.chain(found.node.body, src, bound, found.index)
            self.group(start, blocks.use_span(self.source, step.span))
            return out
        except CnnError as e:
            # Say which use of the block went wrong; the innermost use comes first.
            note = (f"in block `{step.name}`, used at line {step.span.line}, "
                    f"column {step.span.column}")
            raise CnnError(e.message, e.span, e.hint, [*e.diagnostic.notes, note]) from e
        finally:
            self.scope = outer


def _explicit_name(args) -> ast.Word | None:
    """The value of a `name=` option, checked to be a word."""
    found = None
    for arg in args:
        if isinstance(arg, ast.Option) and arg.key == "name":
            if not isinstance(arg.value, ast.Word):
                raise CnnError("a layer name must be a word like `stem` or `conv1_1`",
                               arg.value.span, "letters, digits and `_`, not starting with "
                               "a digit: `name=stem`")
            if found is not None:
                raise CnnError("option `name` is given twice", arg.span, "give one name")
            found = arg.value
    return found


def _starts_from_name(step: ast.Step) -> bool:
    """Whether a step begins from a named tensor (`@x`, `@x as y`)."""
    while isinstance(step, ast.Bound):
        step = step.step
    return isinstance(step, ast.Ref)


def _is_identity(chain: ast.Chain) -> bool:
    step = chain.steps[0]
    return (len(chain.steps) == 1 and isinstance(step, ast.Layer) and step.word == "id"
            and not step.args)


def layer_notes(kind: type[Layer], in_shapes) -> list[str]:
    if kind.arity == "many":
        return [f"branch {i + 1} gives {format_shape(s)}" for i, s in enumerate(in_shapes)]
    return [f"input is {format_shape(in_shapes[0])}"] if in_shapes else []


def expand(module: ast.Module, source: str, name: str = "model") -> Graph:
    """Expand and type a parsed module into a `Graph`, or raise a located `CnnError`."""
    definitions = blocks.definitions(module)
    builder = _Builder(source, definitions)
    scope = len(module.definitions)  # statements may use every block
    inputs = [s.input for s in module.statements if s.input is not None]
    if not inputs:
        body = module.statements[0].body
        assert body is not None  # a statement without `input` is a chain
        first = body.steps[0]
        word = f"`{first.word}`" if isinstance(first, ast.Layer) else "this"
        raise CnnError(f"the spec has no `input`: a network starts with `input`, not {word}",
                       first.span, "start with `input DIMS`, e.g. `input 28x28x1 -> ...`")
    several = len(inputs) > 1
    unnamed = [s.input for s in module.statements if s.input is not None and s.binding is None]
    if several and unnamed:
        # Point at the `input` that made several, unless it is the one named.
        at = next((i for i in unnamed if i is not inputs[0]), inputs[0])
        raise CnnError("a second `input`: with several inputs, each is named", at.span,
                       "write `input DIMS as NAME` for each, e.g. `input 10 as meta`")
    with budget():  # the expressions of blocks used many times are evaluated many times
        for statement in module.statements:
            if statement.body is not None:
                builder.check_size_of(statement.body, scope)
        out = NO_INPUT
        for statement in module.statements:
            out = builder.statement(statement, several, scope)
        outputs = builder.outputs(module, out)
    nodes = builder.nodes
    keep = pruning.reaching(nodes, outputs)
    for warning in pruning.dead_ends(nodes, keep, builder.dropped):
        builder.warnings.setdefault((warning.span.start, warning.message), warning)
    kept, renumbered = pruning.kept(nodes, keep)
    inputs_kept = tuple(renumbered[n.index] for n in nodes
                        if n.kind == "input" and keep[n.index])
    outputs = tuple(renumbered[o] for o in outputs)
    for node in kept:
        if node.index not in outputs and _activation_name(node.layer) == "softmax":
            builder.warn("softmax before the last layer", node.span,
                         "softmax usually ends a classifier")
    ordered = sorted(builder.warnings.values(), key=lambda d: d.span.start)
    tensors = tuple((renumbered[n], t) for n, t in builder.tensors if keep[n])
    listed = tuple(ref.name for ref in module.outputs)
    return Graph(name, kept, tuple(ordered), inputs_kept, outputs,
                 pruning.kept_groups(builder.groups, keep), tensors, listed)


def _activation_name(layer: Layer) -> str | None:
    act = getattr(layer, "activation", None) or getattr(layer, "function", None)
    return act.name if act else None
