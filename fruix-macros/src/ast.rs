//! The macro's input as a small tree of values, before any meaning is given to it.
//!
//! ```text
//! input  := entry,*               (the body of a struct, without braces)
//! value  := "[" item,* "]"        list
//!         | "{" entry,* "}"       struct or map, by position
//!         | any Rust expression   literals and bare names are recognized later
//! item   := value | ".." expr     (a spread: every element of an iterable)
//! entry  := (ident | "string") ":" value
//! ```

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{braced, bracketed, Expr, Ident, LitStr, Token};

/// First and last token of a piece of input: errors underline the whole range.
#[derive(Clone, Copy)]
pub struct Range {
    pub first: Span,
    pub last: Span,
}

impl Range {
    pub fn single(span: Span) -> Range {
        Range {
            first: span,
            last: span,
        }
    }

    fn of(tokens: &impl ToTokens) -> Range {
        let tokens = tokens.to_token_stream();
        let mut iter = tokens.into_iter();
        let first = iter.next().map_or_else(Span::call_site, |t| t.span());
        let last = iter.last().map_or(first, |t| t.span());
        Range { first, last }
    }

    /// Error at this range (on stable Rust a multi-token span is made of its two ends).
    pub fn error(self, message: impl std::fmt::Display) -> syn::Error {
        let mut ends = TokenStream::new();
        ends.extend([
            TokenTree::Punct(with_span(self.first)),
            TokenTree::Punct(with_span(self.last)),
        ]);
        syn::Error::new_spanned(ends, message)
    }
}

fn with_span(span: Span) -> proc_macro2::Punct {
    let mut p = proc_macro2::Punct::new('#', proc_macro2::Spacing::Alone);
    p.set_span(span);
    p
}

/// A value as written.
pub enum Value {
    List(List),
    Braced(Braced),
    Expr(Expr),
}

pub struct List {
    pub open: Span,
    pub range: Range,
    pub items: Vec<Item>,
    /// The list as written, for positions where an array is a plain Rust expression.
    pub tokens: TokenStream,
}

pub enum Item {
    Value(Value),
    Spread(Expr),
}

/// `{ key: value, ... }`: a struct in struct positions, a map in map positions.
pub struct Braced {
    pub open: Span,
    pub range: Range,
    pub entries: Vec<Entry>,
}

pub struct Entry {
    pub key: Key,
    pub value: Value,
}

pub enum Key {
    Ident(Ident),
    Str(LitStr),
}

impl Key {
    pub fn text(&self) -> String {
        match self {
            Key::Ident(ident) => ident.unraw().to_string(),
            Key::Str(lit) => lit.value(),
        }
    }
    pub fn span(&self) -> Span {
        match self {
            Key::Ident(ident) => ident.span(),
            Key::Str(lit) => lit.span(),
        }
    }
}

impl Value {
    pub fn range(&self) -> Range {
        match self {
            Value::List(list) => list.range,
            Value::Braced(braced) => braced.range,
            Value::Expr(expr) => Range::of(expr),
        }
    }

    /// Where to point at this value when it is a composite: its opening delimiter.
    pub fn head(&self) -> Range {
        match self {
            Value::List(list) => Range::single(list.open),
            Value::Braced(braced) => Range::single(braced.open),
            Value::Expr(_) => self.range(),
        }
    }

    /// What kind of value this is, for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Value::List(_) => "a list",
            Value::Braced(_) => "a `{ .. }` block",
            Value::Expr(Expr::Lit(lit)) => match lit.lit {
                syn::Lit::Str(_) => "a string",
                syn::Lit::Int(_) => "an integer",
                syn::Lit::Bool(_) => "a boolean",
                _ => "a literal",
            },
            Value::Expr(_) => "an expression",
        }
    }
}

/// The whole macro input.
pub struct Input {
    pub entries: Vec<Entry>,
}

impl Parse for Input {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        Ok(Input {
            entries: parse_entries(input)?,
        })
    }
}

fn parse_entries(input: ParseStream) -> syn::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    while !input.is_empty() {
        let key = if input.peek(LitStr) {
            Key::Str(input.parse()?)
        } else if input.peek(Ident::peek_any) {
            Key::Ident(input.call(Ident::parse_any)?)
        } else {
            return Err(input.error("expected a field name followed by `:`"));
        };
        input.parse::<Token![:]>().map_err(|e| {
            syn::Error::new(e.span(), format!("expected `:` after `{}`", key.text()))
        })?;
        let value = parse_value(input)?;
        entries.push(Entry { key, value });
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(entries)
}

fn parse_value(input: ParseStream) -> syn::Result<Value> {
    if input.peek(syn::token::Bracket) {
        let group = group_span(input);
        let tokens = input
            .fork()
            .parse::<proc_macro2::Group>()?
            .to_token_stream();
        let content;
        bracketed!(content in input);
        let mut items = Vec::new();
        while !content.is_empty() {
            if content.peek(Token![..]) {
                content.parse::<Token![..]>()?;
                items.push(Item::Spread(content.parse()?));
            } else {
                items.push(Item::Value(parse_value(&content)?));
            }
            if content.is_empty() {
                break;
            }
            content.parse::<Token![,]>()?;
        }
        Ok(Value::List(List {
            open: group.0,
            range: group.1,
            items,
            tokens,
        }))
    } else if input.peek(syn::token::Brace) {
        let group = group_span(input);
        let content;
        braced!(content in input);
        Ok(Value::Braced(Braced {
            open: group.0,
            range: group.1,
            entries: parse_entries(&content)?,
        }))
    } else {
        Ok(Value::Expr(input.parse()?))
    }
}

/// The opening delimiter's span and the whole group's range, before the group is consumed.
fn group_span(input: ParseStream) -> (Span, Range) {
    input
        .cursor()
        .any_group()
        .filter(|(_, delim, _, _)| *delim != Delimiter::None)
        .map_or(
            (input.span(), Range::single(input.span())),
            |(_, _, span, _)| {
                (
                    span.open(),
                    Range {
                        first: span.open(),
                        last: span.close(),
                    },
                )
            },
        )
}
