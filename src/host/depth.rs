//! How deeply arrays and maps may nest inside each other. Rhai builds, copies and drops nested
//! values recursively and has no limit of its own for their depth, so azid bounds it where
//! values are compared, shown and converted (the recursions that cost most stack per level),
//! and runs scripts on a thread whose stack holds the cheaper recursions for every value the
//! size limits allow (`stack_size`).

use rhai::{
    Array, Dynamic, Engine, EvalAltResult, ImmutableString, Map, NativeCallContext, Position,
};

/// Deepest nesting of arrays and maps that is compared, shown or converted.
pub const MAX_DEPTH: usize = 256;

/// Stack bytes a level of nesting may take while Rhai copies, sizes or drops a value.
const BYTES_PER_LEVEL: usize = 512;

/// The stack a script thread needs so that any value within the size limits can be copied,
/// sized and dropped: every level of nesting is at least one array item or map entry.
pub fn stack_size(max_array_size: usize, max_map_size: usize) -> usize {
    max_array_size
        .saturating_add(max_map_size)
        .saturating_add(MAX_DEPTH)
        .saturating_mul(BYTES_PER_LEVEL)
        .max(64 << 20)
}

/// The `LimitExceeded` error a too deep value raises (catchable, like the API's errors).
fn too_deep() -> Box<EvalAltResult> {
    let mut map = Map::new();
    map.insert("code".into(), "LimitExceeded".into());
    map.insert(
        "message".into(),
        format!("arrays and maps nest more than {MAX_DEPTH} levels deep").into(),
    );
    map.insert("status".into(), Dynamic::UNIT);
    EvalAltResult::ErrorRuntime(map.into(), Position::NONE).into()
}

/// Whether `value` nests at most `left` more levels of arrays and maps (closures' captured
/// values included); the walk stops as soon as it is too deep.
fn within(value: &Dynamic, left: usize) -> bool {
    if value.is_array() {
        let Ok(items) = value.as_array_ref() else {
            return true;
        };
        return left > 0 && items.iter().all(|v| within(v, left - 1));
    }
    if value.is_map() {
        let Ok(entries) = value.as_map_ref() else {
            return true;
        };
        return left > 0 && entries.values().all(|v| within(v, left - 1));
    }
    if value.is_fnptr() {
        let Some(f) = value.read_lock::<rhai::FnPtr>() else {
            return true;
        };
        return left > 0 && f.curry().iter().all(|v| within(v, left - 1));
    }
    true
}

/// Refuses a value nested deeper than `MAX_DEPTH`.
pub fn check(value: &Dynamic) -> Result<(), Box<EvalAltResult>> {
    if within(value, MAX_DEPTH) {
        Ok(())
    } else {
        Err(too_deep())
    }
}

/// Whether two values are equal, as Rhai's `==` decides, after both passed `check`.
fn equal(ctx: &NativeCallContext, a: &Dynamic, b: &Dynamic) -> Result<bool, Box<EvalAltResult>> {
    if a.is_array() && b.is_array() {
        let (Ok(x), Ok(y)) = (a.as_array_ref(), b.as_array_ref()) else {
            return Ok(false);
        };
        return arrays_equal(ctx, &x, &y);
    }
    if a.is_map() && b.is_map() {
        let (Ok(x), Ok(y)) = (a.as_map_ref(), b.as_map_ref()) else {
            return Ok(false);
        };
        return maps_equal(ctx, &x, &y);
    }
    if a.type_id() != b.type_id() {
        return Ok(false);
    }
    ctx.call_native_fn::<bool>("==", (a.clone(), b.clone()))
}

fn arrays_equal(ctx: &NativeCallContext, x: &Array, y: &Array) -> Result<bool, Box<EvalAltResult>> {
    if x.len() != y.len() {
        return Ok(false);
    }
    for (a, b) in x.iter().zip(y) {
        if !equal(ctx, a, b)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn maps_equal(ctx: &NativeCallContext, x: &Map, y: &Map) -> Result<bool, Box<EvalAltResult>> {
    if x.len() != y.len() {
        return Ok(false);
    }
    for (k, a) in x {
        let Some(b) = y.get(k) else {
            return Ok(false);
        };
        if !equal(ctx, a, b)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A value as Rhai's `to_debug` shows it, after it passed `check`.
fn show(ctx: &NativeCallContext, value: &Dynamic) -> Result<String, Box<EvalAltResult>> {
    if value.is_array()
        && let Ok(items) = value.as_array_ref()
    {
        return show_items(ctx, &items).map(|s| format!("[{s}]"));
    }
    if value.is_map()
        && let Ok(entries) = value.as_map_ref()
    {
        return show_entries(ctx, &entries).map(|s| format!("#{{{s}}}"));
    }
    Ok(ctx
        .call_native_fn::<ImmutableString>("to_debug", (value.clone(),))?
        .to_string())
}

/// The items of an array, shown and joined with `, `.
fn show_items(ctx: &NativeCallContext, items: &Array) -> Result<String, Box<EvalAltResult>> {
    let parts = items
        .iter()
        .map(|v| show(ctx, v))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(parts.join(", "))
}

/// The entries of a map, shown as `"key": value` and joined with `, `.
fn show_entries(ctx: &NativeCallContext, entries: &Map) -> Result<String, Box<EvalAltResult>> {
    let parts = entries
        .iter()
        .map(|(k, v)| show(ctx, v).map(|v| format!("{k:?}: {v}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(parts.join(", "))
}

/// Registers `==`, `!=`, `print`, `debug`, `to_string` and `to_debug` for arrays and maps,
/// refusing values nested deeper than `MAX_DEPTH` with `LimitExceeded`.
pub fn register(engine: &mut Engine) {
    type Res<T> = Result<T, Box<EvalAltResult>>;
    let array_ok = |a: &Array| a.iter().all(|v| within(v, MAX_DEPTH - 1));
    let map_ok = |m: &Map| m.values().all(|v| within(v, MAX_DEPTH - 1));
    engine
        .register_fn(
            "==",
            move |ctx: NativeCallContext, a: &mut Array, b: Array| -> Res<bool> {
                if !(array_ok(a) && array_ok(&b)) {
                    return Err(too_deep());
                }
                arrays_equal(&ctx, a, &b)
            },
        )
        .register_fn(
            "!=",
            move |ctx: NativeCallContext, a: &mut Array, b: Array| -> Res<bool> {
                if !(array_ok(a) && array_ok(&b)) {
                    return Err(too_deep());
                }
                arrays_equal(&ctx, a, &b).map(|same| !same)
            },
        )
        .register_fn(
            "==",
            move |ctx: NativeCallContext, a: &mut Map, b: Map| -> Res<bool> {
                if !(map_ok(a) && map_ok(&b)) {
                    return Err(too_deep());
                }
                maps_equal(&ctx, a, &b)
            },
        )
        .register_fn(
            "!=",
            move |ctx: NativeCallContext, a: &mut Map, b: Map| -> Res<bool> {
                if !(map_ok(a) && map_ok(&b)) {
                    return Err(too_deep());
                }
                maps_equal(&ctx, a, &b).map(|same| !same)
            },
        );
    for name in ["print", "debug", "to_string", "to_debug"] {
        engine
            .register_fn(
                name,
                move |ctx: NativeCallContext, a: &mut Array| -> Res<ImmutableString> {
                    if !array_ok(a) {
                        return Err(too_deep());
                    }
                    show_items(&ctx, a).map(|s| format!("[{s}]").into())
                },
            )
            .register_fn(
                name,
                move |ctx: NativeCallContext, m: &mut Map| -> Res<ImmutableString> {
                    if !map_ok(m) {
                        return Err(too_deep());
                    }
                    show_entries(&ctx, m).map(|s| format!("#{{{s}}}").into())
                },
            );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> Dynamic {
        (0..levels).fold(Dynamic::from_array(Array::new()), |inner, _| {
            Dynamic::from_array(vec![inner])
        })
    }

    #[test]
    fn depth_is_checked_up_to_the_limit() {
        assert!(check(&nested(MAX_DEPTH - 1)).is_ok());
        assert!(check(&nested(MAX_DEPTH + 1)).is_err());
        let mut map = Map::new();
        map.insert("k".into(), nested(MAX_DEPTH));
        assert!(check(&Dynamic::from_map(map)).is_err());
        assert!(check(&Dynamic::from("flat")).is_ok());
    }

    #[test]
    fn stacks_grow_with_the_size_limits() {
        assert_eq!(stack_size(0, 0), 64 << 20);
        assert!(stack_size(5_000_000, 5_000_000) >= 10_000_000 * BYTES_PER_LEVEL);
        assert_eq!(stack_size(usize::MAX, 1), usize::MAX);
    }
}
