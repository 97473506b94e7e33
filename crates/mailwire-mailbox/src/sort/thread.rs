//! The THREAD algorithms on messages already read: ORDEREDSUBJECT and
//! REFERENCES (RFC 5256 section 3) and REFS.
//!
//! Nothing here recurses on the shape of the input: trees are arenas of
//! indices walked with explicit stacks, so a References chain a million
//! deep costs memory in proportion, never stack. The one walk whose length
//! the input decides, the loop check before each link (is the parent a
//! descendant of the child?), stops after [`MAX_THREAD_DEPTH`] steps and
//! refuses the link, so linking costs at most that per reference; and all
//! the walks of one threading together stop after [`MAX_LOOP_STEPS`],
//! after which a link that needs a walk is refused.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::num::NonZeroU32;

use mailwire_imap::Thread;

use crate::types::Uid;

/// How many ancestors the loop check of the REFERENCES algorithm walks
/// before it gives up and refuses a link as if it made a loop. Real
/// threads are far shallower; this bounds the time a crafted References
/// chain can cost.
pub const MAX_THREAD_DEPTH: usize = 10_000;

/// How many steps the loop checks of one REFERENCES or REFS threading
/// walk in all. A mailbox can hold a chain [`MAX_THREAD_DEPTH`] deep and
/// messages whose References name its deep end and its root over and over:
/// each pair walked the whole chain (1,013 messages of 7 KB cost 13.4 s).
/// Real mailboxes walk rarely and shortly (a walk is needed only when the
/// child already has children); past this, such links are refused, as a
/// loop would be, and the threads stay valid trees.
pub const MAX_LOOP_STEPS: usize = 1 << 26;

/// What threading needs of one message.
#[derive(Debug, Clone)]
pub(crate) struct ThreadMessage {
    pub uid: Uid,
    /// Sequence number: the tie-breaker of every sort.
    pub seq: u32,
    /// The sent date (RFC 5256 section 2.2), seconds since the epoch, UTC.
    pub sent: i64,
    /// The base subject, collated (compared as is).
    pub subject: String,
    /// Whether the subject marks a reply or forward.
    pub is_reply_or_forward: bool,
    /// The normalized Message-ID, if valid.
    pub message_id: Option<String>,
    /// The references, oldest first (References, else the first
    /// In-Reply-To ID).
    pub references: Vec<String>,
}

/// One node of a [`ThreadTree`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ThreadNode {
    /// The message, or `None` for a placeholder parent (a message that is
    /// missing or did not match, or a subject group's common parent):
    /// such nodes occur only among the roots and always have two children
    /// or more.
    pub uid: Option<Uid>,
    /// The children, in order: indices into [`ThreadTree::nodes`].
    pub children: Vec<usize>,
}

/// The answer of THREAD: a forest of messages by UID, in the order the
/// algorithm gives, as an arena (so that neither building nor dropping it
/// recurses, however deep a thread is).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ThreadTree {
    nodes: Vec<ThreadNode>,
    roots: Vec<usize>,
}

impl ThreadTree {
    /// Every node; [`roots`](Self::roots) and [`ThreadNode::children`]
    /// index into it.
    pub fn nodes(&self) -> &[ThreadNode] {
        &self.nodes
    }

    /// The first node of each thread, in order.
    pub fn roots(&self) -> &[usize] {
        &self.roots
    }

    /// Whether there is no thread (no message matched).
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    /// Every message, depth first (a parent before its children, siblings
    /// in order): the order a THREAD response lists them in.
    pub fn uids(&self) -> Vec<Uid> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack: Vec<usize> = self.roots.iter().rev().copied().collect();
        while let Some(n) = stack.pop() {
            let node = &self.nodes[n];
            out.extend(node.uid);
            stack.extend(node.children.iter().rev());
        }
        out
    }

    /// The threads in mailwire-imap's form, for `* THREAD`: `number` maps
    /// a UID to what the response carries (the UID itself for UID THREAD,
    /// the sequence number for THREAD).
    ///
    /// A [`Thread`] nests one level per branching, and its drop, clone and
    /// encoding recurse that deep, so the nesting is cut at `max_depth`
    /// levels (at least 1): below that, a thread's remaining messages are
    /// listed depth first as one chain. Every message is still listed
    /// exactly once. Keep `max_depth` within what the clients' decoders
    /// accept (mailwire-imap's `limits.depth`).
    pub fn to_imap(&self, mut number: impl FnMut(Uid) -> NonZeroU32, max_depth: usize) -> Vec<Thread> {
        let max_depth = max_depth.max(1);
        self.roots
            .iter()
            .map(|&r| self.imap_thread(r, 1, max_depth, &mut number))
            .collect()
    }

    /// One thread; recurses once per nesting level, at most `max_depth`.
    fn imap_thread(
        &self,
        start: usize,
        depth: usize,
        max_depth: usize,
        number: &mut impl FnMut(Uid) -> NonZeroU32,
    ) -> Thread {
        let mut thread = Thread::default();
        let mut n = start;
        loop {
            let node = &self.nodes[n];
            thread.messages.extend(node.uid.map(&mut *number));
            match node.children.as_slice() {
                [] => break,
                [only] => n = *only,
                children if depth >= max_depth => {
                    // Flatten what is below, depth first, iteratively.
                    let mut stack: Vec<usize> = children.iter().rev().copied().collect();
                    while let Some(c) = stack.pop() {
                        let child = &self.nodes[c];
                        thread.messages.extend(child.uid.map(&mut *number));
                        stack.extend(child.children.iter().rev());
                    }
                    break;
                }
                children => {
                    for &c in children {
                        thread
                            .children
                            .push(self.imap_thread(c, depth + 1, max_depth, number));
                    }
                    break;
                }
            }
        }
        thread
    }
}

/// ORDEREDSUBJECT (RFC 5256 section 3): messages sorted by base subject
/// then sent date, split by subject; each thread is its first message
/// with the others as its children, threads ordered by their first
/// message's sent date. `messages` are in sequence order.
pub(crate) fn ordered_subject(messages: &[ThreadMessage]) -> ThreadTree {
    let mut order: Vec<usize> = (0..messages.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&messages[a], &messages[b]);
        a.subject
            .cmp(&b.subject)
            .then(a.sent.cmp(&b.sent))
            .then(a.seq.cmp(&b.seq))
    });
    let mut tree = ThreadTree::default();
    // (sent date, sequence number) of each thread's first message.
    let mut keyed: Vec<((i64, u32), usize)> = Vec::new();
    let mut i = 0;
    while i < order.len() {
        let first = &messages[order[i]];
        let end = i + order[i..]
            .iter()
            .take_while(|&&m| messages[m].subject == first.subject)
            .count();
        let root = tree.nodes.len();
        tree.nodes.push(ThreadNode {
            uid: Some(first.uid),
            children: (root + 1..root + end - i).collect(),
        });
        tree.nodes.extend(order[i + 1..end].iter().map(|&m| ThreadNode {
            uid: Some(messages[m].uid),
            children: Vec::new(),
        }));
        keyed.push(((first.sent, first.seq), root));
        i = end;
    }
    // Threads by the sent date of their first message.
    keyed.sort_unstable();
    tree.roots = keyed.into_iter().map(|(_, r)| r).collect();
    tree
}

/// A container of the REFERENCES algorithm: a message, or a dummy.
#[derive(Debug, Clone)]
struct Container {
    message: Option<usize>,
    parent: Option<usize>,
    /// How many containers have this one as parent: a container without
    /// children cannot be anyone's ancestor, which spares the loop check's
    /// walk in the usual case (a reply to a message seen before).
    children: usize,
}

/// The threading state of REFERENCES and REFS.
struct Linker {
    containers: Vec<Container>,
    /// What the loop checks may still walk ([`MAX_LOOP_STEPS`]).
    steps_left: usize,
}

impl Linker {
    fn link(&mut self, parent: usize, child: usize) {
        self.containers[child].parent = Some(parent);
        self.containers[parent].children += 1;
    }

    /// Whether making `parent` the parent of the parentless `child` would
    /// make a loop (`parent` is `child` or below it), or the walk to find
    /// out is longer than [`MAX_THREAD_DEPTH`] or than what is left of
    /// [`MAX_LOOP_STEPS`].
    fn would_loop(&mut self, parent: usize, child: usize) -> bool {
        if parent != child && self.containers[child].children == 0 {
            return false;
        }
        let mut n = parent;
        for _ in 0..=MAX_THREAD_DEPTH {
            if n == child || self.steps_left == 0 {
                return true;
            }
            self.steps_left -= 1;
            match self.containers[n].parent {
                Some(p) => n = p,
                None => return false,
            }
        }
        true
    }
}

/// Which of the two reference-based algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefsVariant {
    /// RFC 5256 REFERENCES: subject merging, threads by first date.
    References,
    /// REFS: no subject merging, threads by their newest message.
    Refs,
}

/// REFERENCES (RFC 5256 section 3, steps 1 to 6) or REFS. `messages`
/// are in sequence order.
pub(crate) fn references(messages: &[ThreadMessage], variant: RefsVariant) -> ThreadTree {
    references_within(messages, variant, MAX_LOOP_STEPS).0
}

/// [`references`] with `steps` for the loop checks; also what they walked.
fn references_within(messages: &[ThreadMessage], variant: RefsVariant, steps: usize) -> (ThreadTree, usize) {
    let mut linker = Linker {
        containers: Vec::with_capacity(messages.len()),
        steps_left: steps,
    };
    let mut by_id: HashMap<&str, usize> = HashMap::with_capacity(messages.len());

    // Step 1.
    for (index, message) in messages.iter().enumerate() {
        // The message's own container: a dummy made for its ID by an
        // earlier reference takes it; a duplicate ID, or none, gets a
        // container of its own (a unique ID).
        let own = match message.message_id.as_deref() {
            Some(id) => match by_id.entry(id) {
                Entry::Occupied(e) if linker.containers[*e.get()].message.is_none() => {
                    let c = *e.get();
                    linker.containers[c].message = Some(index);
                    c
                }
                Entry::Occupied(_) => new_container(&mut linker, Some(index)),
                Entry::Vacant(e) => {
                    let c = new_container(&mut linker, Some(index));
                    e.insert(c);
                    c
                }
            },
            None => new_container(&mut linker, Some(index)),
        };
        // (A) Link the references in a chain, never changing an existing
        // link nor making a loop.
        let mut previous: Option<usize> = None;
        for id in &message.references {
            let c = match by_id.entry(id.as_str()) {
                Entry::Occupied(e) => *e.get(),
                Entry::Vacant(e) => {
                    let c = new_container(&mut linker, None);
                    e.insert(c);
                    c
                }
            };
            if let Some(p) = previous {
                if linker.containers[c].parent.is_none() && !linker.would_loop(p, c) {
                    linker.link(p, c);
                }
            }
            previous = Some(c);
        }
        // (B) The last reference is the parent: that replaces a link a
        // truncated References made, unless it makes a loop.
        if let Some(old) = linker.containers[own].parent.take() {
            linker.containers[old].children -= 1;
        }
        if let Some(p) = previous {
            if !linker.would_loop(p, own) {
                linker.link(p, own);
            }
        }
    }

    let walked = steps - linker.steps_left;
    let containers = &linker.containers;
    let count = containers.len();
    // Step 2: the children of each container, and the roots.
    let mut kids: Vec<Vec<usize>> = vec![Vec::new(); count];
    let mut roots = Vec::new();
    for (c, container) in containers.iter().enumerate() {
        match container.parent {
            Some(p) => kids[p].push(c),
            None => roots.push(c),
        }
    }
    let is_dummy = |c: usize| containers.get(c).is_none_or(|x| x.message.is_none());

    // Step 3: prune dummies, children first (iterative post-order). Below
    // the roots a dummy is replaced by its (already pruned) children.
    let mut stack: Vec<(usize, bool)> = roots.iter().rev().map(|&r| (r, false)).collect();
    while let Some((c, done)) = stack.pop() {
        if !done {
            stack.push((c, true));
            stack.extend(kids[c].iter().map(|&k| (k, false)));
            continue;
        }
        if kids[c].iter().any(|&k| is_dummy(k)) {
            let old = std::mem::take(&mut kids[c]);
            let mut new = Vec::with_capacity(old.len());
            for k in old {
                if is_dummy(k) {
                    new.append(&mut kids[k]);
                } else {
                    new.push(k);
                }
            }
            kids[c] = new;
        }
    }
    // At the root, a dummy stays only with two children or more.
    let mut top = Vec::with_capacity(roots.len());
    for r in roots {
        if is_dummy(r) {
            match kids[r].len() {
                0 => {}
                1 => top.push(kids[r][0]),
                _ => top.push(r),
            }
        } else {
            top.push(r);
        }
    }

    // The sort key of a container (RFC 5256 section 2.2, ties by sequence
    // number): its message's, or a dummy's first child's.
    let message_key = |c: usize| {
        containers
            .get(c)
            .and_then(|x| x.message)
            .map(|i| (messages[i].sent, messages[i].seq))
    };
    let node_key = |kids: &Vec<Vec<usize>>, c: usize| {
        message_key(c)
            .or_else(|| kids[c].first().and_then(|&k| message_key(k)))
            .unwrap_or((i64::MIN, 0))
    };
    // New dummies of step 5 are appended past the containers.
    let mut extra_dummies = 0usize;
    // Step 6's sort for every set of siblings below the roots (step 4 also
    // wants a dummy's children sorted). Below the roots there are only
    // messages, so the order of the lists does not matter.
    let sort_children = |kids: &mut Vec<Vec<usize>>| {
        for list in kids.iter_mut() {
            if list.len() > 1 {
                list.sort_by_key(|&k| message_key(k).unwrap_or((i64::MIN, 0)));
            }
        }
    };
    sort_children(&mut kids);

    match variant {
        RefsVariant::References => {
            // Step 4: the roots by sent date (a dummy by its first child).
            top.sort_by_key(|&c| node_key(&kids, c));

            // Step 5: gather roots with the same base subject.
            let thread_message = |kids: &Vec<Vec<usize>>, c: usize| -> Option<&ThreadMessage> {
                let m = if c < count && !is_dummy(c) {
                    c
                } else {
                    *kids[c].first()?
                };
                containers.get(m)?.message.map(|i| &messages[i])
            };
            // (B) The subject table: subject -> (container, index in top).
            let mut table: HashMap<&str, (usize, usize)> = HashMap::new();
            for (i, &c) in top.iter().enumerate() {
                let Some(m) = thread_message(&kids, c) else {
                    continue;
                };
                if m.subject.is_empty() {
                    continue;
                }
                match table.entry(m.subject.as_str()) {
                    Entry::Vacant(e) => {
                        e.insert((c, i));
                    }
                    Entry::Occupied(mut e) => {
                        let (t, _) = *e.get();
                        if !is_dummy(t) {
                            let t_reply = thread_message(&kids, t).is_some_and(|m| m.is_reply_or_forward);
                            let c_reply = !is_dummy(c) && m.is_reply_or_forward;
                            if is_dummy(c) || (t_reply && !c_reply) {
                                e.insert((c, i));
                            }
                        }
                    }
                }
            }
            // (C) Merge.
            let mut removed = vec![false; top.len()];
            for i in 0..top.len() {
                let c = top[i];
                let Some(m) = thread_message(&kids, c) else {
                    continue;
                };
                if m.subject.is_empty() {
                    continue;
                }
                let subject = m.subject.as_str();
                let c_dummy = is_dummy(c);
                let c_reply = !c_dummy && m.is_reply_or_forward;
                let Some(&(t, ti)) = table.get(subject) else {
                    continue;
                };
                if t == c {
                    continue;
                }
                let t_dummy = is_dummy(t);
                let t_reply = !t_dummy && thread_message(&kids, t).is_some_and(|m| m.is_reply_or_forward);
                if t_dummy && c_dummy {
                    let moved = std::mem::take(&mut kids[c]);
                    kids[t].extend(moved);
                    removed[i] = true;
                } else if t_dummy || (c_reply && !t_reply) {
                    kids[t].push(c);
                    removed[i] = true;
                } else {
                    let d = count + extra_dummies;
                    extra_dummies += 1;
                    kids.push(vec![t, c]);
                    top[ti] = d;
                    removed[i] = true;
                    table.insert(subject, (d, ti));
                }
            }
            let mut kept = Vec::with_capacity(top.len());
            for (i, c) in top.into_iter().enumerate() {
                if !removed[i] {
                    kept.push(c);
                }
            }
            top = kept;

            // Step 6: every set of siblings by sent date, the roots last.
            sort_children(&mut kids);
            top.sort_by_key(|&c| node_key(&kids, c));
        }
        RefsVariant::Refs => {
            // No subject merging; each thread by its newest message (the
            // latest sent date, then the highest sequence number).
            let mut keyed: Vec<((i64, u32), usize)> = Vec::with_capacity(top.len());
            for &r in &top {
                let mut newest = (i64::MIN, 0);
                let mut stack = vec![r];
                while let Some(n) = stack.pop() {
                    if let Some(key) = message_key(n) {
                        newest = newest.max(key);
                    }
                    stack.extend(&kids[n]);
                }
                keyed.push((newest, r));
            }
            keyed.sort();
            top = keyed.into_iter().map(|(_, r)| r).collect();
        }
    }

    // The answer, in order, as a fresh arena.
    let uid_of = |c: usize| {
        (c < count)
            .then(|| containers[c].message)
            .flatten()
            .map(|i| messages[i].uid)
    };
    let mut tree = ThreadTree::default();
    let mut stack: Vec<(usize, Option<usize>)> = top.iter().rev().map(|&r| (r, None)).collect();
    while let Some((c, parent)) = stack.pop() {
        let n = tree.nodes.len();
        tree.nodes.push(ThreadNode {
            uid: uid_of(c),
            children: Vec::new(),
        });
        match parent {
            Some(p) => tree.nodes[p].children.push(n),
            None => tree.roots.push(n),
        }
        stack.extend(kids[c].iter().rev().map(|&k| (k, Some(n))));
    }
    (tree, walked)
}

fn new_container(linker: &mut Linker, message: Option<usize>) -> usize {
    linker.containers.push(Container {
        message,
        parent: None,
        children: 0,
    });
    linker.containers.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(n: u32, id: Option<&str>, refs: &[String]) -> ThreadMessage {
        ThreadMessage {
            uid: Uid::new(n).unwrap(),
            seq: n,
            sent: i64::from(n),
            subject: String::new(),
            is_reply_or_forward: false,
            message_id: id.map(str::to_owned),
            references: refs.to_vec(),
        }
    }

    #[test]
    fn a_chain_deeper_than_the_loop_check_walks() {
        // 11,000 leaves, leaf i replying to message i; then messages 1 to
        // 11,000, each replying to the one before. Each message's container
        // already has a child (its leaf), so every link of the chain needs
        // the loop check's walk up the chain: past MAX_THREAD_DEPTH the
        // link is refused and the chain breaks, but every message is listed
        // once and nothing recurses.
        let n = 11_000u32;
        let mut messages: Vec<ThreadMessage> =
            (1..=n).map(|i| message(i, None, &[format!("{i}@c")])).collect();
        messages.extend((1..=n).map(|i| {
            let refs = if i > 1 {
                vec![format!("{}@c", i - 1)]
            } else {
                Vec::new()
            };
            message(n + i, Some(&format!("{i}@c")), &refs)
        }));
        for variant in [RefsVariant::References, RefsVariant::Refs] {
            let tree = references(&messages, variant);
            let mut uids = tree.uids();
            uids.sort_unstable();
            uids.dedup();
            assert_eq!(uids.len(), 2 * n as usize);
            assert_eq!(tree.roots().len(), 2, "the chain was cut once");
            let wire = tree.to_imap(|u| u.into(), 10);
            let listed: usize = wire.iter().map(count).sum();
            assert_eq!(listed, 2 * n as usize);
        }
    }

    /// A chain 10,000 deep, then messages whose References name its deep
    /// end and its root 500 times over: each pair walks the whole chain to
    /// find the loop. The walks of one threading stop at MAX_LOOP_STEPS in
    /// all (before, 100 such messages walked 500 million steps), the links
    /// they would decide are refused, and every message is listed once.
    #[test]
    fn the_loop_checks_of_one_threading_walk_a_bounded_total() {
        let depth = 10_000u32;
        let mut messages: Vec<ThreadMessage> = (0..=depth)
            .map(|i| {
                let refs = if i > 0 {
                    vec![format!("{}@c", i - 1)]
                } else {
                    Vec::new()
                };
                message(i + 1, Some(&format!("{i}@c")), &refs)
            })
            .collect();
        let pair = [format!("{depth}@c"), "0@c".to_owned()];
        let refs: Vec<String> = pair.iter().cycle().take(1000).cloned().collect();
        messages.extend((0..100).map(|i| message(depth + 2 + i, None, &refs)));
        for variant in [RefsVariant::References, RefsVariant::Refs] {
            let (tree, walked) = references_within(&messages, variant, MAX_LOOP_STEPS);
            assert_eq!(walked, MAX_LOOP_STEPS);
            let mut uids = tree.uids();
            uids.sort_unstable();
            uids.dedup();
            assert_eq!(uids.len(), messages.len());
            // With room for the walks, the same threads.
            let (roomy, walked) = references_within(&messages[..depth as usize + 2], variant, 1 << 40);
            let (bounded, _) = references_within(&messages[..depth as usize + 2], variant, MAX_LOOP_STEPS);
            assert!(walked < MAX_LOOP_STEPS);
            assert_eq!(roomy, bounded);
        }
    }

    fn count(t: &Thread) -> usize {
        t.messages.len() + t.children.iter().map(count).sum::<usize>()
    }

    #[test]
    fn self_references_and_cycles() {
        let refs = |ids: &[&str]| ids.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let messages = [
            message(1, Some("a"), &refs(&["a"])),
            message(2, Some("b"), &refs(&["c", "b", "a", "c"])),
            message(3, Some("c"), &refs(&["b", "c"])),
            message(4, None, &refs(&["a", "a", "a"])),
        ];
        let tree = references(&messages, RefsVariant::References);
        let mut uids: Vec<u32> = tree.uids().iter().map(|u| u.get()).collect();
        uids.sort_unstable();
        assert_eq!(uids, [1, 2, 3, 4]);
    }
}
