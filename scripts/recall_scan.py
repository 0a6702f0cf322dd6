"""Independent scan for lost-flag candidates (not using the linter)."""
import ast, re, sys, pathlib
root = pathlib.Path(sys.argv[1])
MODE = re.compile(r"(Dropout|BatchNorm|BatchNormalization|SpatialDropout\w*|GaussianNoise|GaussianDropout|AlphaDropout)\(")
def flav(src):
    if re.search(r"^\s*(import|from)\s+tf_keras", src, re.M): return "k2"
    if re.search(r"^\s*(import|from)\s+(keras|keras_hub|keras_rs)\b", src, re.M): return "k3"
    return "amb"
out=[]
for p in sorted(root.rglob("*.py")):
    rel = str(p.relative_to(root))
    if "/transformers/" in rel and "modeling_tf" not in rel: continue
    try: src=p.read_text(); tree=ast.parse(src)
    except Exception: continue
    fl=flav(src)
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg=="training" and isinstance(node.value, ast.Constant) and isinstance(node.value.value,bool):
            out.append((rel, node.value.lineno, fl, f"hard-coded training={node.value.value}"))
        if isinstance(node, ast.ClassDef):
            init = "".join(ast.unparse(m) for m in node.body if isinstance(m, ast.FunctionDef) and m.name!="call")
            moded = set(re.findall(r"self\.(\w+)\s*=\s*[\w.]*?(?:Dropout|BatchNormalization|BatchNorm\w*|SpatialDropout\w*|GaussianNoise|GaussianDropout)\(", init))
            for m in node.body:
                if isinstance(m, ast.FunctionDef) and m.name=="call":
                    has = any(a.arg=="training" for a in m.args.args+m.args.kwonlyargs)
                    for c in ast.walk(m):
                        if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and isinstance(c.func.value, ast.Name) and c.func.value.id=="self" and c.func.attr in moded:
                            if not any(k.arg in ("training",None) for k in c.keywords):
                                out.append((rel, c.lineno, fl, f"{node.name}.call {'has' if has else 'lacks'} training, calls self.{c.func.attr} without"))
                        if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr in ("dropout",) and not has:
                            out.append((rel, c.lineno, fl, f"{node.name}.call lacks training, raw {ast.unparse(c.func)}"))
        if isinstance(node, ast.With) and any("GradientTape" in ast.unparse(i.context_expr) for i in node.items):
            for c in ast.walk(node):
                if isinstance(c, ast.Call) and isinstance(c.func,(ast.Name,ast.Attribute)):
                    t=ast.unparse(c.func)
                    if re.search(r"(^self$|model|generator|discriminator|encoder|decoder|net\b|critic|actor)", t) and not any(k.arg in("training",None) for k in c.keywords) and not t.endswith(("trainable_variables","gradient","watch")) and "loss" not in t and "compiled" not in t:
                        out.append((rel, c.lineno, fl, f"tape: {t}(...) without training"))
for r in out: print(*r, sep=" | ")
