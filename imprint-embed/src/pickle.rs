//! A bounded reader for the subset of Python's pickle format (protocols 2 to 4)
//! that PyTorch writes for a state dict.
//!
//! Nothing is executed: `GLOBAL`, `REDUCE` and `BUILD` only record which
//! callable would have been applied to which arguments, and the caller
//! interprets the few it knows (`collections.OrderedDict`,
//! `torch._utils._rebuild_tensor_v2`). Objects live in an arena and are
//! referred to by index, so the memo can share an object (as Python does,
//! including later mutation by `SETITEMS`) without copying it; every opcode
//! creates at most one object, so memory is bounded by the input's length.
//! Every length is checked against the bytes left before it is read, and the
//! machine is a loop, not a recursion, so hostile nesting cannot overflow the
//! stack.

use std::collections::HashMap;

/// Index of an object in [`Pickle::objects`].
pub(crate) type Id = usize;

/// One unpickled object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Object {
    None,
    Bool(bool),
    /// An integer that fits `i64`.
    Int(i64),
    /// A `LONG1`/`LONG4` integer too large for `i64`: little-endian two's complement.
    BigInt(Vec<u8>),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<Id>),
    List(Vec<Id>),
    /// Items in insertion order (an `OrderedDict` is read as a dict).
    Dict(Vec<(Id, Id)>),
    /// A `module.name` reference (`GLOBAL`, `STACK_GLOBAL`).
    Global {
        module: String,
        name: String,
    },
    /// `callable(*args)`, not called.
    Reduce {
        callable: Id,
        args: Id,
    },
    /// A persistent id: PyTorch's reference to a storage record.
    PersistentId(Id),
}

/// A fully read pickle: its objects and the root object's index.
#[derive(Debug)]
pub(crate) struct Pickle {
    pub objects: Vec<Object>,
    pub root: Id,
}

impl Pickle {
    pub fn get(&self, id: Id) -> &Object {
        // Ids come from the machine below, which only hands out existing ones.
        &self.objects[id]
    }
}

/// The maximum number of entries on the stack at once; a state dict needs a few dozen.
const MAX_STACK: usize = 1 << 20;

enum Slot {
    Mark,
    Obj(Id),
}

/// Reads one pickle from the start of `data`; returns it and the number of bytes used.
///
/// # Errors
/// A message with the byte offset (relative to `data`) for an unknown opcode, a
/// truncated argument, a stack underflow or a malformed structure.
pub(crate) fn read(data: &[u8]) -> Result<(Pickle, usize), String> {
    let mut m = Machine { data, pos: 0, objects: Vec::new(), stack: Vec::new(), memo: HashMap::new() };
    let root = m.run()?;
    Ok((Pickle { objects: m.objects, root }, m.pos))
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    objects: Vec<Object>,
    stack: Vec<Slot>,
    memo: HashMap<u32, Id>,
}

impl Machine<'_> {
    fn run(&mut self) -> Result<Id, String> {
        loop {
            let at = self.pos;
            let op = self.bytes(1)?[0];
            match op {
                0x80 => {
                    // PROTO
                    let v = self.bytes(1)?[0];
                    if !(2..=5).contains(&v) {
                        return Err(format!("pickle protocol {v} at byte {at} is not supported"));
                    }
                }
                0x95 => {
                    // FRAME: a length hint only.
                    self.bytes(8)?;
                }
                b'.' => {
                    let id = self.pop(at)?;
                    if !self.stack.is_empty() {
                        return Err(format!("pickle STOP at byte {at} leaves {} objects", self.stack.len()));
                    }
                    return Ok(id);
                }
                b'(' => self.push_slot(Slot::Mark, at)?,
                b'0' => {
                    self.pop_slot(at)?;
                }
                b'1' => {
                    self.pop_mark(at)?;
                }
                b'2' => {
                    let top = self.peek(at)?;
                    self.push_id(top, at)?;
                }
                b'N' => self.push(Object::None, at)?,
                0x88 => self.push(Object::Bool(true), at)?,
                0x89 => self.push(Object::Bool(false), at)?,
                b'J' => {
                    let v = i32::from_le_bytes(self.array()?);
                    self.push(Object::Int(v.into()), at)?;
                }
                b'K' => {
                    let v = self.bytes(1)?[0];
                    self.push(Object::Int(v.into()), at)?;
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.array()?);
                    self.push(Object::Int(v.into()), at)?;
                }
                0x8a => {
                    let n = usize::from(self.bytes(1)?[0]);
                    let raw = self.bytes(n)?.to_vec();
                    self.push(long(raw), at)?;
                }
                0x8b => {
                    let n = self.len_u32()?;
                    let raw = self.bytes(n)?.to_vec();
                    self.push(long(raw), at)?;
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.array()?);
                    self.push(Object::Float(v), at)?;
                }
                b'X' => {
                    let n = self.len_u32()?;
                    let s = self.utf8(n, at)?;
                    self.push(Object::Str(s), at)?;
                }
                0x8c => {
                    let n = usize::from(self.bytes(1)?[0]);
                    let s = self.utf8(n, at)?;
                    self.push(Object::Str(s), at)?;
                }
                0x8d => {
                    let n = self.len_u64()?;
                    let s = self.utf8(n, at)?;
                    self.push(Object::Str(s), at)?;
                }
                // Python 2 byte strings (SHORT_BINSTRING, BINSTRING): text in practice.
                b'U' => {
                    let n = usize::from(self.bytes(1)?[0]);
                    let s = String::from_utf8_lossy(self.bytes(n)?).into_owned();
                    self.push(Object::Str(s), at)?;
                }
                b'T' => {
                    let n = self.len_u32()?;
                    let s = String::from_utf8_lossy(self.bytes(n)?).into_owned();
                    self.push(Object::Str(s), at)?;
                }
                b'C' => {
                    let n = usize::from(self.bytes(1)?[0]);
                    let b = self.bytes(n)?.to_vec();
                    self.push(Object::Bytes(b), at)?;
                }
                b'B' => {
                    let n = self.len_u32()?;
                    let b = self.bytes(n)?.to_vec();
                    self.push(Object::Bytes(b), at)?;
                }
                b')' => self.push(Object::Tuple(Vec::new()), at)?,
                b't' => {
                    let items = self.pop_mark(at)?;
                    self.push(Object::Tuple(items), at)?;
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop(at)?);
                    }
                    items.reverse();
                    self.push(Object::Tuple(items), at)?;
                }
                b']' => self.push(Object::List(Vec::new()), at)?,
                b'}' => self.push(Object::Dict(Vec::new()), at)?,
                b'a' => {
                    let item = self.pop(at)?;
                    let list = self.peek(at)?;
                    self.list_mut(list, at)?.push(item);
                }
                b'e' => {
                    let items = self.pop_mark(at)?;
                    let list = self.peek(at)?;
                    self.list_mut(list, at)?.extend(items);
                }
                b's' => {
                    let value = self.pop(at)?;
                    let key = self.pop(at)?;
                    let dict = self.peek(at)?;
                    self.dict_mut(dict, at)?.push((key, value));
                }
                b'u' => {
                    let items = self.pop_mark(at)?;
                    if items.len() % 2 != 0 {
                        return Err(format!("pickle SETITEMS at byte {at} has an odd number of items"));
                    }
                    let dict = self.peek(at)?;
                    let entries = self.dict_mut(dict, at)?;
                    entries.extend(items.chunks_exact(2).map(|kv| (kv[0], kv[1])));
                }
                b'c' => {
                    let module = self.line(at)?;
                    let name = self.line(at)?;
                    self.push(Object::Global { module, name }, at)?;
                }
                0x93 => {
                    let name = self.pop(at)?;
                    let module = self.pop(at)?;
                    match (&self.objects[module], &self.objects[name]) {
                        (Object::Str(m), Object::Str(n)) => {
                            let g = Object::Global { module: m.clone(), name: n.clone() };
                            self.push(g, at)?;
                        }
                        _ => return Err(format!("pickle STACK_GLOBAL at byte {at} without two strings")),
                    }
                }
                b'R' | 0x81 => {
                    // REDUCE, NEWOBJ: recorded, not called. An empty OrderedDict is
                    // a dict, so that SETITEMS can fill it.
                    let args = self.pop(at)?;
                    let callable = self.pop(at)?;
                    let is_dict = matches!(&self.objects[callable],
                        Object::Global { module, name } if module == "collections" && name == "OrderedDict")
                        && matches!(&self.objects[args], Object::Tuple(a) if a.is_empty());
                    if is_dict {
                        self.push(Object::Dict(Vec::new()), at)?;
                    } else {
                        self.push(Object::Reduce { callable, args }, at)?;
                    }
                }
                b'b' => {
                    // BUILD sets attributes (an OrderedDict's `_metadata`); not needed.
                    self.pop(at)?;
                    self.peek(at)?;
                }
                b'Q' => {
                    let pid = self.pop(at)?;
                    self.push(Object::PersistentId(pid), at)?;
                }
                b'q' => {
                    let key = u32::from(self.bytes(1)?[0]);
                    self.memoize(key, at)?;
                }
                b'r' => {
                    let key = u32::from_le_bytes(self.array()?);
                    self.memoize(key, at)?;
                }
                0x94 => {
                    let key = u32::try_from(self.memo.len())
                        .map_err(|_| format!("pickle memo overflow at byte {at}"))?;
                    self.memoize(key, at)?;
                }
                b'h' => {
                    let key = u32::from(self.bytes(1)?[0]);
                    self.get(key, at)?;
                }
                b'j' => {
                    let key = u32::from_le_bytes(self.array()?);
                    self.get(key, at)?;
                }
                other => {
                    return Err(format!("unsupported pickle opcode 0x{other:02x} at byte {at}"));
                }
            }
        }
    }

    fn bytes(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len()).ok_or_else(|| {
            format!(
                "pickle truncated: {n} bytes needed at byte {}, {} left",
                self.pos,
                self.data.len() - self.pos
            )
        })?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }

    fn len_u32(&mut self) -> Result<usize, String> {
        let n = u32::from_le_bytes(self.array()?);
        usize::try_from(n).map_err(|_| format!("pickle length {n} too large"))
    }

    fn len_u64(&mut self) -> Result<usize, String> {
        let n = u64::from_le_bytes(self.array()?);
        usize::try_from(n).map_err(|_| format!("pickle length {n} too large"))
    }

    fn utf8(&mut self, n: usize, at: usize) -> Result<String, String> {
        let b = self.bytes(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| format!("pickle string at byte {at} is not UTF-8"))
    }

    /// A newline-terminated ASCII argument (`GLOBAL`).
    fn line(&mut self, at: usize) -> Result<String, String> {
        let rest = &self.data[self.pos..];
        let n = rest
            .iter()
            .take(256)
            .position(|&b| b == b'\n')
            .ok_or_else(|| format!("pickle GLOBAL at byte {at} has no name within 256 bytes"))?;
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.pos += n + 1;
        Ok(s)
    }

    fn push(&mut self, obj: Object, at: usize) -> Result<(), String> {
        self.objects.push(obj);
        self.push_id(self.objects.len() - 1, at)
    }

    fn push_id(&mut self, id: Id, at: usize) -> Result<(), String> {
        self.push_slot(Slot::Obj(id), at)
    }

    fn push_slot(&mut self, slot: Slot, at: usize) -> Result<(), String> {
        if self.stack.len() >= MAX_STACK {
            return Err(format!("pickle stack deeper than {MAX_STACK} at byte {at}"));
        }
        self.stack.push(slot);
        Ok(())
    }

    fn pop_slot(&mut self, at: usize) -> Result<Slot, String> {
        self.stack.pop().ok_or_else(|| format!("pickle stack underflow at byte {at}"))
    }

    fn pop(&mut self, at: usize) -> Result<Id, String> {
        match self.pop_slot(at)? {
            Slot::Obj(id) => Ok(id),
            Slot::Mark => Err(format!("pickle: unexpected MARK at byte {at}")),
        }
    }

    fn peek(&self, at: usize) -> Result<Id, String> {
        match self.stack.last() {
            Some(Slot::Obj(id)) => Ok(*id),
            Some(Slot::Mark) => Err(format!("pickle: unexpected MARK at byte {at}")),
            None => Err(format!("pickle stack underflow at byte {at}")),
        }
    }

    /// Pops everything above the topmost MARK, in push order.
    fn pop_mark(&mut self, at: usize) -> Result<Vec<Id>, String> {
        let mut items = Vec::new();
        loop {
            match self.pop_slot(at)? {
                Slot::Mark => break,
                Slot::Obj(id) => items.push(id),
            }
        }
        items.reverse();
        Ok(items)
    }

    fn list_mut(&mut self, id: Id, at: usize) -> Result<&mut Vec<Id>, String> {
        match &mut self.objects[id] {
            Object::List(items) => Ok(items),
            _ => Err(format!("pickle APPEND at byte {at} to something that is not a list")),
        }
    }

    fn dict_mut(&mut self, id: Id, at: usize) -> Result<&mut Vec<(Id, Id)>, String> {
        match &mut self.objects[id] {
            Object::Dict(items) => Ok(items),
            _ => Err(format!("pickle SETITEM at byte {at} on something that is not a dict")),
        }
    }

    fn memoize(&mut self, key: u32, at: usize) -> Result<(), String> {
        let top = self.peek(at)?;
        self.memo.insert(key, top);
        Ok(())
    }

    fn get(&mut self, key: u32, at: usize) -> Result<(), String> {
        let id = *self.memo.get(&key).ok_or_else(|| format!("pickle memo key {key} unset at byte {at}"))?;
        self.push_id(id, at)
    }
}

/// A little-endian two's complement integer of any width.
fn long(raw: Vec<u8>) -> Object {
    if raw.is_empty() {
        return Object::Int(0);
    }
    if raw.len() <= 8 {
        let negative = raw[raw.len() - 1] & 0x80 != 0;
        let mut b = [if negative { 0xff } else { 0 }; 8];
        b[..raw.len()].copy_from_slice(&raw);
        return Object::Int(i64::from_le_bytes(b));
    }
    Object::BigInt(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_small_state_dict_shape() {
        // pickle.dumps(collections.OrderedDict([("a", (1, -2, 70000)), ("b", [True, None, 1.5])]), protocol=2)
        let data: &[u8] = b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01(X\x01\x00\x00\x00aq\x02K\x01J\xfe\xff\xff\xffJp\x11\x01\x00\x87q\x03X\x01\x00\x00\x00bq\x04]q\x05(\x88NG?\xf8\x00\x00\x00\x00\x00\x00eu.";
        let (p, used) = read(data).unwrap();
        assert_eq!(used, data.len());
        let Object::Dict(items) = p.get(p.root) else { panic!("root is {:?}", p.get(p.root)) };
        assert_eq!(items.len(), 2);
        assert_eq!(p.get(items[0].0), &Object::Str("a".into()));
        let Object::Tuple(t) = p.get(items[0].1) else { panic!() };
        let ints: Vec<_> = t.iter().map(|&i| p.get(i).clone()).collect();
        assert_eq!(ints, [Object::Int(1), Object::Int(-2), Object::Int(70000)]);
        let Object::List(l) = p.get(items[1].1) else { panic!() };
        let vals: Vec<_> = l.iter().map(|&i| p.get(i).clone()).collect();
        assert_eq!(vals, [Object::Bool(true), Object::None, Object::Float(1.5)]);
    }

    #[test]
    fn long_integers_and_the_torch_magic_number() {
        assert_eq!(long(vec![0xff]), Object::Int(-1));
        assert_eq!(long(vec![0x00, 0x01]), Object::Int(256));
        let magic = 0x1950a86a20f9469cfc6c_u128.to_le_bytes()[..10].to_vec();
        assert_eq!(long(magic.clone()), Object::BigInt(magic));
    }

    #[test]
    fn hostile_inputs_are_errors() {
        let cases: &[&[u8]] = &[
            b"",
            b"\x80\x02",
            b"\x80\x09N.",
            b"X\xff\xff\xff\xff",
            b"h\x05.",
            b"t.",
            b"(.",
            b"N(N.",
            b"NN.",
            b"Ns.",
            b"}N.",
            b"cmodule_without_newline",
            b"\xfe",
            b"0",
            b"(u.",
            b"}(Nu.",
        ];
        for &c in cases {
            assert!(read(c).is_err(), "{c:?} was accepted");
        }
    }

    #[test]
    fn memo_shares_mutated_objects() {
        // d = {}; pickle of [d, d] after d["k"] = 1 is written with the memo.
        let data: &[u8] = b"\x80\x02]q\x00(}q\x01X\x01\x00\x00\x00kK\x01sh\x01e.";
        let (p, _) = read(data).unwrap();
        let Object::List(l) = p.get(p.root) else { panic!() };
        assert_eq!(l[0], l[1]);
        assert!(matches!(p.get(l[0]), Object::Dict(d) if d.len() == 1));
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let mut data = vec![0x80, 2];
        data.extend(std::iter::repeat_n(b']', 100_000));
        data.extend(std::iter::repeat_n(b'a', 99_999));
        data.push(b'.');
        let (p, _) = read(&data).unwrap();
        assert!(matches!(p.get(p.root), Object::List(_)));
    }
}
