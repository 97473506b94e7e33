//! [`SmallList`]: a list that keeps a single element inline.
//!
//! Most lists in a FETCH response hold one element: the From, Sender and
//! Reply-To addresses of an envelope, the parameters of a body part
//! (`charset`, `boundary`, `name`). Decoding each into a `Vec` costs an
//! allocation and a free per list, a large share of the time a response
//! takes. [`SmallList`] stores one element without allocating and moves to
//! a `Vec` at the second.
//!
//! It is written without `unsafe` and, unlike the `smallvec` crate's type,
//! is covariant in its element, so a `SmallList<Address<'static>>` can be
//! used where a `SmallList<Address<'a>>` is expected, as with `Vec`.
//!
//! The type itself stays inside the crate: the public lists built on it
//! ([`AddressList`](crate::AddressList), [`BodyParams`](crate::BodyParams),
//! [`Fragments`](crate::Fragments)) are newtypes declared with
//! [`inline_list!`], which behave as a `Vec` does where a caller can see
//! (slice methods, iteration, conversions) and leave the storage free to
//! change.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Deref, DerefMut};

/// A list that stores its first element inline and the rest in a `Vec`.
/// It dereferences to a slice, compares, hashes and prints as one, and
/// converts from and into `Vec`.
#[derive(Clone)]
pub(crate) struct SmallList<T>(Repr<T>);

#[derive(Clone)]
enum Repr<T> {
    Empty,
    One([T; 1]),
    Heap(Vec<T>),
}

impl<T> SmallList<T> {
    /// An empty list; allocates nothing.
    pub const fn new() -> Self {
        SmallList(Repr::Empty)
    }

    /// Appends an element. The first is stored inline; the second moves
    /// both into a `Vec` (with room for four).
    #[inline]
    pub fn push(&mut self, value: T) {
        self.push_mut(value);
    }

    /// Appends an element and returns it, for a decoder that fills it in
    /// place without looking it up again.
    #[inline]
    pub(crate) fn push_mut(&mut self, value: T) -> &mut T {
        match &self.0 {
            Repr::One(_) => return self.spill(value),
            // This arm has just seen the list empty (and nothing can have
            // changed it since): the `Empty` it holds owns nothing and is
            // forgotten, which spares a call to the drop code on each push
            // (plain assignment: 1% more instructions decoding FETCH).
            Repr::Empty => std::mem::forget(std::mem::replace(&mut self.0, Repr::One([value]))),
            Repr::Heap(_) => {
                if let Repr::Heap(v) = &mut self.0 {
                    v.push(value);
                }
            }
        }
        match &mut self.0 {
            Repr::One([only]) => only,
            Repr::Heap(v) => match v.last_mut() {
                Some(last) => last,
                None => unreachable!("an element was pushed just before"),
            },
            Repr::Empty => unreachable!("an element was stored just before"),
        }
    }

    /// The push of a second element: both move into a `Vec`. Returns the
    /// new element.
    #[inline(never)]
    fn spill(&mut self, value: T) -> &mut T {
        let first = match std::mem::replace(&mut self.0, Repr::Empty) {
            Repr::One([first]) => Some(first),
            Repr::Empty | Repr::Heap(_) => None,
        };
        let mut v = Vec::with_capacity(4);
        v.extend(first);
        v.push(value);
        self.0 = Repr::Heap(v);
        match &mut self.0 {
            Repr::Heap(v) => match v.last_mut() {
                Some(last) => last,
                None => unreachable!("an element was pushed just before"),
            },
            _ => unreachable!("the list was moved to the heap just before"),
        }
    }

    /// The elements as a slice.
    pub fn as_slice(&self) -> &[T] {
        match &self.0 {
            Repr::Empty => &[],
            Repr::One(one) => one,
            Repr::Heap(v) => v,
        }
    }

    /// The elements as a mutable slice.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        match &mut self.0 {
            Repr::Empty => &mut [],
            Repr::One(one) => one,
            Repr::Heap(v) => v,
        }
    }

    /// The elements in a `Vec` (which allocates for an inline element).
    pub fn into_vec(self) -> Vec<T> {
        match self.0 {
            Repr::Empty => Vec::new(),
            Repr::One([one]) => vec![one],
            Repr::Heap(v) => v,
        }
    }

    /// Whether the elements are stored inline (no allocation).
    #[cfg(test)]
    pub fn is_inline(&self) -> bool {
        !matches!(self.0, Repr::Heap(_))
    }

    /// Applies `f` to every element, keeping the inline storage.
    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> SmallList<U> {
        SmallList(match self.0 {
            Repr::Empty => Repr::Empty,
            Repr::One([one]) => Repr::One([f(one)]),
            Repr::Heap(v) => Repr::Heap(v.into_iter().map(f).collect()),
        })
    }
}

impl<T> Default for SmallList<T> {
    fn default() -> Self {
        SmallList::new()
    }
}

impl<T> Deref for SmallList<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T> DerefMut for SmallList<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        self.as_mut_slice()
    }
}

impl<T> AsRef<[T]> for SmallList<T> {
    fn as_ref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T: fmt::Debug> fmt::Debug for SmallList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl<T: PartialEq> PartialEq for SmallList<T> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Eq> Eq for SmallList<T> {}

impl<T: PartialEq> PartialEq<[T]> for SmallList<T> {
    fn eq(&self, other: &[T]) -> bool {
        self.as_slice() == other
    }
}

impl<T: PartialEq> PartialEq<Vec<T>> for SmallList<T> {
    fn eq(&self, other: &Vec<T>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

/// Hashes as the slice does, so a list and a `Vec` of the same elements
/// hash alike.
impl<T: Hash> Hash for SmallList<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl<T> From<Vec<T>> for SmallList<T> {
    /// Keeps the `Vec` as it is, except that zero or one element move
    /// inline.
    fn from(mut v: Vec<T>) -> Self {
        match v.len() {
            0 => SmallList::new(),
            1 => match v.pop() {
                Some(one) => SmallList(Repr::One([one])),
                None => SmallList::new(),
            },
            _ => SmallList(Repr::Heap(v)),
        }
    }
}

impl<T, const N: usize> From<[T; N]> for SmallList<T> {
    fn from(items: [T; N]) -> Self {
        items.into_iter().collect()
    }
}

impl<T> From<SmallList<T>> for Vec<T> {
    fn from(list: SmallList<T>) -> Self {
        list.into_vec()
    }
}

impl<T> FromIterator<T> for SmallList<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut list = SmallList::new();
        list.extend(iter);
        list
    }
}

impl<T> Extend<T> for SmallList<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for item in iter {
            self.push(item);
        }
    }
}

impl<'l, T> IntoIterator for &'l SmallList<T> {
    type Item = &'l T;
    type IntoIter = std::slice::Iter<'l, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl<'l, T> IntoIterator for &'l mut SmallList<T> {
    type Item = &'l mut T;
    type IntoIter = std::slice::IterMut<'l, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_mut_slice().iter_mut()
    }
}

impl<T> IntoIterator for SmallList<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter(match self.0 {
            Repr::Empty => IterRepr::Inline(None),
            Repr::One([one]) => IterRepr::Inline(Some(one)),
            Repr::Heap(v) => IterRepr::Heap(v.into_iter()),
        })
    }
}

/// The owning iterator of the lists that keep their first element inline
/// ([`AddressList`](crate::AddressList), [`BodyParams`](crate::BodyParams),
/// [`Fragments`](crate::Fragments)): iterating one by value allocates
/// nothing.
pub struct IntoIter<T>(IterRepr<T>);

impl<T: fmt::Debug> fmt::Debug for IntoIter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rest: &[T] = match &self.0 {
            IterRepr::Inline(one) => one.as_slice(),
            IterRepr::Heap(it) => it.as_slice(),
        };
        f.debug_tuple("ListIntoIter").field(&rest).finish()
    }
}

enum IterRepr<T> {
    Inline(Option<T>),
    Heap(std::vec::IntoIter<T>),
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        match &mut self.0 {
            IterRepr::Inline(one) => one.take(),
            IterRepr::Heap(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IterRepr::Inline(one) => (usize::from(one.is_some()), Some(usize::from(one.is_some()))),
            IterRepr::Heap(it) => it.size_hint(),
        }
    }
}

impl<T> ExactSizeIterator for IntoIter<T> {}

impl<T> std::iter::FusedIterator for IntoIter<T> {}

/// Declares a public list type of the crate: a newtype of [`SmallList`]
/// over `$item<'a>`, which dereferences to a slice, compares, hashes and
/// prints as one, converts from and into `Vec`, collects, and iterates by
/// reference and by value (with [`IntoIter`], re-exported as
/// `ListIntoIter`). The crate reaches the [`SmallList`] as field `.0`.
macro_rules! inline_list {
    ($(#[$meta:meta])* $name:ident, $item:ident) => {
        $(#[$meta])*
        #[derive(Clone, Default, PartialEq, Eq, Hash)]
        pub struct $name<'a>(pub(crate) $crate::small_list::SmallList<$item<'a>>);

        impl<'a> $name<'a> {
            /// An empty list; allocates nothing.
            #[inline]
            pub const fn new() -> Self {
                $name($crate::small_list::SmallList::new())
            }

            /// Appends an element. The first is stored inline; the
            /// second moves both to the heap.
            #[inline]
            pub fn push(&mut self, value: $item<'a>) {
                self.0.push(value);
            }

            /// The elements as a slice.
            #[inline]
            pub fn as_slice(&self) -> &[$item<'a>] {
                self.0.as_slice()
            }

            /// The elements in a `Vec` (which allocates for an inline
            /// element).
            pub fn into_vec(self) -> Vec<$item<'a>> {
                self.0.into_vec()
            }
        }

        impl<'a> std::ops::Deref for $name<'a> {
            type Target = [$item<'a>];
            #[inline]
            fn deref(&self) -> &[$item<'a>] {
                self.0.as_slice()
            }
        }

        impl<'a> std::ops::DerefMut for $name<'a> {
            #[inline]
            fn deref_mut(&mut self) -> &mut [$item<'a>] {
                self.0.as_mut_slice()
            }
        }

        impl<'a> AsRef<[$item<'a>]> for $name<'a> {
            fn as_ref(&self) -> &[$item<'a>] {
                self.0.as_slice()
            }
        }

        impl std::fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl<'a> PartialEq<[$item<'a>]> for $name<'a> {
            fn eq(&self, other: &[$item<'a>]) -> bool {
                self.0.as_slice() == other
            }
        }

        impl<'a> PartialEq<Vec<$item<'a>>> for $name<'a> {
            fn eq(&self, other: &Vec<$item<'a>>) -> bool {
                self.0.as_slice() == other.as_slice()
            }
        }

        impl<'a> From<Vec<$item<'a>>> for $name<'a> {
            /// Keeps the `Vec` as it is, except that zero or one element
            /// move inline.
            fn from(v: Vec<$item<'a>>) -> Self {
                $name(v.into())
            }
        }

        impl<'a, const N: usize> From<[$item<'a>; N]> for $name<'a> {
            fn from(items: [$item<'a>; N]) -> Self {
                $name(items.into())
            }
        }

        impl<'a> From<$name<'a>> for Vec<$item<'a>> {
            fn from(list: $name<'a>) -> Self {
                list.0.into_vec()
            }
        }

        impl<'a> FromIterator<$item<'a>> for $name<'a> {
            fn from_iter<I: IntoIterator<Item = $item<'a>>>(iter: I) -> Self {
                $name(iter.into_iter().collect())
            }
        }

        impl<'a> Extend<$item<'a>> for $name<'a> {
            fn extend<I: IntoIterator<Item = $item<'a>>>(&mut self, iter: I) {
                self.0.extend(iter);
            }
        }

        impl<'l, 'a> IntoIterator for &'l $name<'a> {
            type Item = &'l $item<'a>;
            type IntoIter = std::slice::Iter<'l, $item<'a>>;
            #[inline]
            fn into_iter(self) -> Self::IntoIter {
                self.0.as_slice().iter()
            }
        }

        impl<'l, 'a> IntoIterator for &'l mut $name<'a> {
            type Item = &'l mut $item<'a>;
            type IntoIter = std::slice::IterMut<'l, $item<'a>>;
            #[inline]
            fn into_iter(self) -> Self::IntoIter {
                self.0.as_mut_slice().iter_mut()
            }
        }

        impl<'a> IntoIterator for $name<'a> {
            type Item = $item<'a>;
            type IntoIter = $crate::small_list::IntoIter<$item<'a>>;
            #[inline]
            fn into_iter(self) -> Self::IntoIter {
                self.0.into_iter()
            }
        }
    };
}

pub(crate) use inline_list;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn hash_of<H: Hash + ?Sized>(value: &H) -> u64 {
        let mut h = DefaultHasher::new();
        value.hash(&mut h);
        h.finish()
    }

    #[test]
    fn grows_from_inline_to_heap() {
        let mut list = SmallList::new();
        assert!(list.is_empty() && list.is_inline());
        list.push(1);
        assert_eq!(list.as_slice(), [1]);
        assert!(list.is_inline());
        list.push(2);
        list.push(3);
        assert_eq!(list.as_slice(), [1, 2, 3]);
        assert!(!list.is_inline());
        list[1] = 20;
        assert_eq!(list.iter().copied().collect::<Vec<_>>(), [1, 20, 3]);
        assert_eq!(list.clone().into_iter().collect::<Vec<_>>(), [1, 20, 3]);
        assert_eq!(list.clone().map(|n| n * 2).into_vec(), [2, 40, 6]);
        let mut list = SmallList::new();
        list.push(7);
        assert_eq!(list.into_vec(), [7]);
    }

    #[test]
    fn push_mut_returns_the_new_element() {
        let mut list = SmallList::new();
        for n in 0..6 {
            // Empty, inline, spilling, and on the heap.
            let slot = list.push_mut(0);
            assert_eq!(*slot, 0);
            *slot = n * 10;
        }
        assert_eq!(list.as_slice(), [0, 10, 20, 30, 40, 50]);
    }

    #[test]
    fn behaves_like_a_vec() {
        for n in 0..5 {
            let v: Vec<u32> = (0..n).collect();
            let list = SmallList::from(v.clone());
            assert_eq!(list, v);
            assert_eq!(list.is_inline(), n <= 1);
            assert_eq!(hash_of(&list), hash_of(&v));
            assert_eq!(format!("{list:?}"), format!("{v:?}"));
            let collected: SmallList<u32> = v.iter().copied().collect();
            assert_eq!(collected, list);
            let it = list.clone().into_iter();
            assert_eq!(it.len(), v.len());
            assert_eq!(it.collect::<Vec<_>>(), v);
            assert_eq!(Vec::from(list), v);
        }
        assert_eq!(SmallList::from(["a"]).as_slice(), ["a"]);
        assert_eq!(SmallList::<u8>::default(), SmallList::new());
    }

    #[test]
    fn is_covariant() {
        fn shorten<'a>(list: SmallList<&'static str>) -> SmallList<&'a str> {
            list
        }
        assert_eq!(shorten(SmallList::from(["x"])).as_slice(), ["x"]);
    }
}
