// weft optimizer constructors in JavaScript: the `Constructor` base class, logging and
// `exportConstructor`, which builds the `constructors` export.
//
// weft hands a constructor the optimizer table, the model's modules and its parameter entries
// once per run, and it answers with the parameter groups (MMCV's OptimizerConstructor). The
// build (build.sh next to this file) puts this file in front of the plugin, after one line
// that binds the world's `log` import as `weftLog` for the engine in use:
//
//   class OneGroup extends Constructor {
//     static typeName = "OneGroupConstructor";
//     build(optimizer, modules, params) {
//       info(`${params.length} parameter entries`);
//       return [group(trained(params), { lr: optimizer.lr })];
//     }
//   }
//   export const constructors = exportConstructor(OneGroup);
//
// Records arrive with camelCase fields (module: path, kind, attrsJson; param: name, shape,
// requiresGrad, module, aliasOf). Both engines work here: StarlingMonkey (componentize-js)
// and QuickJS (componentize-qjs, WEFT_JS_ENGINE=quickjs); an absent aliasOf is undefined on
// the first and null on the second, which `tensor` and `trained` treat alike.

/** A line at INFO in the run log, under the plugin's name. */
function info(message) {
  weftLog("info", String(message));
}

/** A line at WARNING. */
function warn(message) {
  weftLog("warning", String(message));
}

/** An error for the user (bad config, unsupported model): weft shows the message alone. */
class ConstructorError extends Error {}

/** A module's constructor attributes (in_channels, groups, ...). */
function attrs(module) {
  return module.attrsJson ? JSON.parse(module.attrsJson) : {};
}

/** The entry standing for entry i's tensor: a shared parameter's later names point at its
 * first entry, the only one weft accepts in a group. */
function tensor(params, i) {
  const alias = params[i].aliasOf;
  return alias === undefined || alias === null ? i : alias;
}

/** Every tensor that needs a group: first entries that require grad. */
function trained(params) {
  const out = [];
  params.forEach((p, i) => {
    if ((p.aliasOf === undefined || p.aliasOf === null) && p.requiresGrad) out.push(i);
  });
  return out;
}

/** A parameter group; `options` maps torch.optim names to numbers ({ lr: 0.1 }), in order. */
function group(params, options) {
  return {
    params: Array.from(params, Number),
    options: Object.entries(options).map(([name, value]) => [name, Number(value)]),
  };
}

/** Throws ConstructorError for keys of `table` outside `allowed` (a typo should fail the
 * run, not be ignored). */
function checkKeys(table, allowed, where) {
  const unknown = Object.keys(table).filter((k) => !allowed.includes(k)).sort();
  if (unknown.length > 0) {
    throw new ConstructorError(
      `unknown key${unknown.length > 1 ? "s" : ""} in ${where}: ${unknown.join(", ")} ` +
        `(expected ${[...allowed].sort().join(", ")})`,
    );
  }
}

/** A numeric entry: `fallback` when absent or null, ConstructorError when not a number
 * (or absent without a fallback). */
function number(table, key, where, fallback) {
  const value = table[key];
  if (value === undefined || value === null) {
    if (fallback === undefined) throw new ConstructorError(`${where}: missing \`${key}\``);
    return fallback;
  }
  if (typeof value !== "number") {
    throw new ConstructorError(`${where}.${key}: expected a number, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** An optimizer constructor; weft makes one instance per build. */
class Constructor {
  /** The parameter groups (see `group`). Put every index of trained(params) in exactly
   * one group. */
  build(_optimizer, _modules, _params) {
    throw new ConstructorError(`${this.constructor.name}.build is not written`);
  }
}

// Whatever the plugin throws becomes the error text (a thrown non-string would trap).
function constructorErrorText(e) {
  if (e instanceof ConstructorError) return e.message;
  if (e instanceof Error) return `${e.name}: ${e.message}\n${e.stack || ""}`;
  try {
    return typeof e === "string" ? e : JSON.stringify(e);
  } catch (_) {
    return String(e);
  }
}

/** The `constructors` export, calling `Cls`. */
function exportConstructor(Cls) {
  return {
    typeName() {
      return Cls.typeName || Cls.name;
    },
    build(optimizerJson, modules, params) {
      try {
        const optimizer = JSON.parse(optimizerJson);
        if (optimizer === null || typeof optimizer !== "object" || Array.isArray(optimizer)) {
          throw new ConstructorError(`the optimizer config is not a table: ${optimizerJson}`);
        }
        return new Cls().build(optimizer, Array.from(modules), Array.from(params));
      } catch (e) {
        throw constructorErrorText(e);
      }
    },
  };
}
