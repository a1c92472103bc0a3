//! The parser: items → a tree of nodes per template.
//!
//! Go's grammar, in short: a template is a list of text and actions;
//! `if`/`range`/`with` open a block that `else` may split and `end` closes;
//! an action holds a *pipeline*: commands separated by `|`, optionally
//! preceded by variable declarations (`$x :=`, `$i, $v :=`). A command is
//! an operand — field, variable, function, constant, parenthesized pipeline
//! — followed by arguments. `define` adds a named template to the set,
//! `block` defines one and calls it at once.
//!
//! As in Go, functions and variables are checked here, at parse time:
//! `function "foo" not defined`, `undefined variable "$x"`.

use std::collections::HashMap;
use std::rc::Rc;

use super::lex::{Item, Tok, lex};
use crate::funcs::Funcs;

/// A parsed template: its nodes and the text it came from (for positions).
#[derive(Debug)]
pub struct Tree {
    pub name: String,
    /// The file it was parsed from (errors name this one).
    pub parse_name: String,
    pub text: Rc<str>,
    pub root: Vec<Node>,
}

#[derive(Debug, Clone)]
pub enum Node {
    Text(String),
    Action {
        pos: usize,
        pipe: Pipe,
    },
    If(Branch),
    With(Branch),
    Range(Branch),
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break {
        pos: usize,
    },
    Continue {
        pos: usize,
    },
}

/// `if`/`with`/`range`: the pipeline, the body, the `else` part.
#[derive(Debug, Clone)]
pub struct Branch {
    pub pos: usize,
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

#[derive(Debug, Clone)]
pub struct Pipe {
    pub pos: usize,
    /// `=` rather than `:=`.
    pub is_assign: bool,
    pub decl: Vec<String>,
    pub cmds: Vec<Command>,
}

#[derive(Debug, Clone)]
pub struct Command {
    pub pos: usize,
    pub args: Vec<Arg>,
}

/// An operand or argument.
#[derive(Debug, Clone)]
pub enum Arg {
    /// `.a.b`
    Field {
        pos: usize,
        idents: Vec<String>,
    },
    /// `$x.a.b` (`$x` first).
    Variable {
        pos: usize,
        idents: Vec<String>,
    },
    /// `(pipeline).a.b`
    Chain {
        pos: usize,
        node: Box<Arg>,
        fields: Vec<String>,
    },
    Identifier {
        pos: usize,
        name: String,
    },
    Dot {
        pos: usize,
    },
    Nil {
        pos: usize,
    },
    Bool {
        pos: usize,
        val: bool,
    },
    Number {
        pos: usize,
        num: Number,
    },
    String {
        pos: usize,
        quoted: String,
        val: String,
    },
    Pipe {
        pos: usize,
        pipe: Box<Pipe>,
    },
}

/// A number constant with every reading Go gives it.
#[derive(Debug, Clone)]
pub struct Number {
    pub text: String,
    pub int: Option<i64>,
    pub float: Option<f64>,
    /// A character constant (`'a'`).
    pub is_char: bool,
}

impl Arg {
    pub fn pos(&self) -> usize {
        match self {
            Arg::Field { pos, .. }
            | Arg::Variable { pos, .. }
            | Arg::Chain { pos, .. }
            | Arg::Identifier { pos, .. }
            | Arg::Dot { pos }
            | Arg::Nil { pos }
            | Arg::Bool { pos, .. }
            | Arg::Number { pos, .. }
            | Arg::String { pos, .. }
            | Arg::Pipe { pos, .. } => *pos,
        }
    }
}

// ---- how nodes print (Go's Node.String(), used in error contexts) ----

impl std::fmt::Display for Arg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Arg::Field { idents, .. } => {
                for i in idents {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Variable { idents, .. } => write!(f, "{}", idents.join(".")),
            Arg::Chain { node, fields, .. } => {
                if let Arg::Pipe { .. } = **node {
                    write!(f, "{node}")?;
                } else {
                    write!(f, "{node}")?;
                }
                for i in fields {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Identifier { name, .. } => write!(f, "{name}"),
            Arg::Dot { .. } => write!(f, "."),
            Arg::Nil { .. } => write!(f, "nil"),
            Arg::Bool { val, .. } => write!(f, "{val}"),
            Arg::Number { num, .. } => write!(f, "{}", num.text),
            Arg::String { quoted, .. } => write!(f, "{quoted}"),
            Arg::Pipe { pipe, .. } => write!(f, "({pipe})"),
        }
    }
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                write!(f, " ")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Pipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.decl.is_empty() {
            write!(
                f,
                "{} {} ",
                self.decl.join(", "),
                if self.is_assign { "=" } else { ":=" }
            )?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                write!(f, " | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// A parse error: Go's `template: NAME:LINE: MSG`.
#[derive(Debug, Clone)]
pub struct ParseError {
    pub name: String,
    pub line: usize,
    pub msg: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "template: {}:{}: {}", self.name, self.line, self.msg)
    }
}

/// 1-based line of a byte offset.
pub fn line_of(text: &str, pos: usize) -> usize {
    1 + text[..pos.min(text.len())].matches('\n').count()
}

struct Parser<'a> {
    name: String,
    text: Rc<str>,
    items: Vec<Item>,
    i: usize,
    funcs: &'a Funcs,
    vars: Vec<String>,
    range_depth: usize,
    /// Templates found by `define`/`block`, by name.
    defined: Vec<Tree>,
    /// Where the current action started (for "unclosed action").
    action_pos: usize,
}

/// Parses `text` as template `name`: the main tree plus the trees of every
/// `define` in it.
pub fn parse(name: &str, text: &str, funcs: &Funcs) -> Result<(Tree, Vec<Tree>), ParseError> {
    let text: Rc<str> = Rc::from(text);
    let items = lex(&text).map_err(|e| ParseError {
        name: name.to_string(),
        line: line_of(&text, e.pos),
        msg: e.msg,
    })?;
    let mut p = Parser {
        name: name.to_string(),
        text: text.clone(),
        items,
        i: 0,
        funcs,
        vars: vec!["$".into()],
        range_depth: 0,
        defined: vec![],
        action_pos: 0,
    };
    let root = p.top_level()?;
    let tree = Tree {
        name: name.to_string(),
        parse_name: name.to_string(),
        text,
        root,
    };
    Ok((tree, p.defined))
}

type PResult<T> = Result<T, ParseError>;

impl Parser<'_> {
    fn err<T>(&self, pos: usize, msg: impl Into<String>) -> PResult<T> {
        Err(ParseError {
            name: self.name.clone(),
            line: line_of(&self.text, pos),
            msg: msg.into(),
        })
    }

    fn peek(&self) -> &Item {
        &self.items[self.i]
    }

    fn next(&mut self) -> Item {
        let it = self.items[self.i].clone();
        if self.i < self.items.len() - 1 {
            self.i += 1;
        }
        it
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let it = self.next();
            if it.tok != Tok::Space {
                return it;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        while self.peek().tok == Tok::Space {
            self.i += 1;
        }
        self.peek().clone()
    }

    /// Go's item String() for "unexpected X in Y".
    fn describe(tok: &Tok) -> String {
        let q = |s: &str| {
            if s.chars().count() > 10 {
                let short: String = s.chars().take(10).collect();
                format!("{}...", super::gofmt::quote(&short))
            } else {
                super::gofmt::quote(s)
            }
        };
        match tok {
            Tok::Eof => "EOF".into(),
            Tok::Keyword(k) => format!("<{k}>"),
            Tok::Text(t) => q(t),
            Tok::LeftDelim => q("{{"),
            Tok::RightDelim => q("}}"),
            Tok::Space => q(" "),
            Tok::Ident(s) | Tok::Number(s) => q(s),
            Tok::Field(s) => q(&format!(".{s}")),
            Tok::Variable(s) => q(s),
            Tok::Dot => q("."),
            Tok::Str(raw, _) | Tok::Char(raw, _) => q(raw),
            Tok::Bool(b) => q(&b.to_string()),
            Tok::Nil => q("nil"),
            Tok::Pipe => q("|"),
            Tok::LeftParen => q("("),
            Tok::RightParen => q(")"),
            Tok::Assign => q("="),
            Tok::Declare => q(":="),
            Tok::Comma => q(","),
            Tok::Punct(c) => q(&c.to_string()),
        }
    }

    fn unexpected<T>(&self, it: &Item, context: &str) -> PResult<T> {
        self.err(
            it.pos,
            format!("unexpected {} in {}", Self::describe(&it.tok), context),
        )
    }

    fn top_level(&mut self) -> PResult<Vec<Node>> {
        let mut list = Vec::new();
        loop {
            let it = self.peek().clone();
            match it.tok {
                Tok::Eof => return Ok(list),
                Tok::LeftDelim => {
                    // {{define}} at top level
                    let save = self.i;
                    self.next();
                    let kw = self.next_non_space();
                    if kw.tok == Tok::Keyword("define") {
                        self.parse_definition(it.pos)?;
                        continue;
                    }
                    self.i = save;
                }
                _ => {}
            }
            match self.text_or_action()? {
                Step::Node(n) => list.push(n),
                Step::End(pos) => return self.err(pos, "unexpected {{end}}"),
                Step::Else(pos, _) => return self.err(pos, "unexpected {{else}}"),
            }
        }
    }

    /// `{{define "name"}} … {{end}}`: after the keyword.
    fn parse_definition(&mut self, pos: usize) -> PResult<()> {
        let ctx = "define clause";
        let name_it = self.next_non_space();
        let name = match &name_it.tok {
            Tok::Str(_, v) => v.clone(),
            _ => return self.unexpected(&name_it, ctx),
        };
        let close = self.next_non_space();
        if close.tok != Tok::RightDelim {
            return self.unexpected(&close, ctx);
        }
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let (list, end) = self.item_list()?;
        self.vars = saved_vars;
        if let BlockEnd::Else(p) = end {
            return self.err(p, "unexpected {{else}}");
        }
        let _ = pos;
        self.defined.push(Tree {
            name,
            parse_name: self.name.clone(),
            text: self.text.clone(),
            root: list,
        });
        Ok(())
    }

    /// Items until `{{end}}` or `{{else}}`.
    fn item_list(&mut self) -> PResult<(Vec<Node>, BlockEnd)> {
        let mut list = Vec::new();
        loop {
            if self.peek().tok == Tok::Eof {
                return self.err(self.peek().pos, "unexpected EOF");
            }
            match self.text_or_action()? {
                Step::Node(n) => list.push(n),
                Step::End(_) => return Ok((list, BlockEnd::End)),
                Step::Else(p, kw) => {
                    return Ok((list, BlockEnd::ElseKw(p, kw))).map(|(l, e)| (l, e.norm()));
                }
            }
        }
    }

    fn text_or_action(&mut self) -> PResult<Step> {
        let it = self.next();
        match it.tok {
            Tok::Text(t) => Ok(Step::Node(Node::Text(t))),
            Tok::LeftDelim => {
                self.action_pos = it.pos;
                self.action()
            }
            _ => self.unexpected(&it, "input"),
        }
    }

    fn expect_close(&mut self, ctx: &str) -> PResult<()> {
        let it = self.next_non_space();
        if it.tok != Tok::RightDelim {
            return self.unexpected(&it, ctx);
        }
        Ok(())
    }

    fn action(&mut self) -> PResult<Step> {
        let it = self.peek_non_space();
        if let Tok::Keyword(k) = it.tok {
            self.next();
            match k {
                "block" => return self.block(it.pos).map(Step::Node),
                "break" | "continue" => {
                    if self.range_depth == 0 {
                        return self.err(it.pos, format!("{{{{{k}}}}} outside {{{{range}}}}"));
                    }
                    self.expect_close(&format!("{{{{{k}}}}}"))?;
                    return Ok(Step::Node(if k == "break" {
                        Node::Break { pos: it.pos }
                    } else {
                        Node::Continue { pos: it.pos }
                    }));
                }
                "else" => {
                    // `else` may be followed by `if` or `with` (else-chains)
                    let nx = self.peek_non_space();
                    if let Tok::Keyword(k2 @ ("if" | "with")) = nx.tok {
                        return Ok(Step::Else(it.pos, Some(k2)));
                    }
                    self.expect_close("else")?;
                    return Ok(Step::Else(it.pos, None));
                }
                "end" => {
                    self.expect_close("end")?;
                    return Ok(Step::End(it.pos));
                }
                "if" => return self.branch(it.pos, "if").map(Step::Node),
                "range" => return self.branch(it.pos, "range").map(Step::Node),
                "with" => return self.branch(it.pos, "with").map(Step::Node),
                "template" => return self.template_call(it.pos).map(Step::Node),
                "define" => return self.err(it.pos, "unexpected <define> in command"),
                _ => {}
            }
        }
        let pipe = self.pipeline("command", Tok::RightDelim)?;
        Ok(Step::Node(Node::Action { pos: it.pos, pipe }))
    }

    fn branch(&mut self, pos: usize, kind: &'static str) -> PResult<Node> {
        let nvars = self.vars.len();
        if kind == "range" {
            self.range_depth += 1;
        }
        let pipe = self.pipeline(kind, Tok::RightDelim)?;
        let (list, end) = self.item_list()?;
        if kind == "range" {
            self.range_depth -= 1;
        }
        let else_list = match end {
            BlockEnd::End => None,
            BlockEnd::Else(_) => {
                let (l, e) = self.item_list()?;
                if let BlockEnd::Else(p) | BlockEnd::ElseIf(p, _) = e {
                    return self.err(p, "expected end; found {{else}}".to_string());
                }
                Some(l)
            }
            BlockEnd::ElseKw(..) => unreachable!("normalized by item_list"),
            BlockEnd::ElseIf(p, kw) => {
                // Go allows `{{else if}}` in an if and `{{else with}}` in a with.
                if kind != kw {
                    return self.err(p, format!("unexpected <{kw}> in input"));
                }
                // {{else if …}} is {{else}}{{if …}}…{{end}}{{end}}: parse the
                // nested branch, which consumes the shared {{end}}.
                self.next_non_space(); // the keyword
                let inner = self.branch(p, kw)?;
                Some(vec![inner])
            }
        };
        self.vars.truncate(nvars);
        let b = Branch {
            pos,
            pipe,
            list,
            else_list,
        };
        Ok(match kind {
            "if" => Node::If(b),
            "with" => Node::With(b),
            _ => Node::Range(b),
        })
    }

    fn template_call(&mut self, pos: usize) -> PResult<Node> {
        let ctx = "template clause";
        let it = self.next_non_space();
        let name = match &it.tok {
            Tok::Str(_, v) => v.clone(),
            _ => return self.unexpected(&it, ctx),
        };
        let nx = self.peek_non_space();
        let pipe = if nx.tok == Tok::RightDelim {
            self.next();
            None
        } else {
            Some(self.pipeline(ctx, Tok::RightDelim)?)
        };
        Ok(Node::Template { pos, name, pipe })
    }

    fn block(&mut self, pos: usize) -> PResult<Node> {
        let ctx = "block clause";
        let it = self.next_non_space();
        let name = match &it.tok {
            Tok::Str(_, v) => v.clone(),
            _ => return self.unexpected(&it, ctx),
        };
        let pipe = self.pipeline(ctx, Tok::RightDelim)?;
        let saved = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let (list, end) = self.item_list()?;
        self.vars = saved;
        if let BlockEnd::Else(p) | BlockEnd::ElseIf(p, _) = end {
            return self.err(p, "unexpected {{else}}");
        }
        self.defined.push(Tree {
            name: name.clone(),
            parse_name: self.name.clone(),
            text: self.text.clone(),
            root: list,
        });
        Ok(Node::Template {
            pos,
            name,
            pipe: Some(pipe),
        })
    }

    /// A pipeline up to `end` (`}}` or `)`).
    fn pipeline(&mut self, ctx: &str, end: Tok) -> PResult<Pipe> {
        let start = self.peek_non_space();
        let mut pipe = Pipe {
            pos: start.pos,
            is_assign: false,
            decl: vec![],
            cmds: vec![],
        };
        // declarations: $x := / $x = / $i, $v :=
        if let Tok::Variable(_) = start.tok {
            let save = self.i;
            let mut names = vec![];
            let mut ok = false;
            loop {
                let v = self.next_non_space();
                let Tok::Variable(name) = v.tok else { break };
                names.push(name);
                let sep = self.next_non_space();
                match sep.tok {
                    Tok::Declare | Tok::Assign => {
                        pipe.is_assign = sep.tok == Tok::Assign;
                        ok = true;
                        break;
                    }
                    Tok::Comma if ctx == "range" && names.len() == 1 => continue,
                    Tok::Comma => {
                        return self.err(sep.pos, format!("too many declarations in {ctx}"));
                    }
                    _ => break,
                }
            }
            if ok {
                for n in &names {
                    if pipe.is_assign {
                        if !self.vars.contains(n) {
                            return self.err(start.pos, format!("undefined variable {:?}", n));
                        }
                    } else {
                        self.vars.push(n.clone());
                    }
                }
                pipe.decl = names;
            } else {
                self.i = save;
            }
        }
        loop {
            let it = self.peek_non_space();
            if it.tok == end {
                self.next();
                if pipe.cmds.is_empty() {
                    return self.err(it.pos, format!("missing value for {ctx}"));
                }
                return Ok(pipe);
            }
            match it.tok {
                Tok::Bool(_)
                | Tok::Char(..)
                | Tok::Dot
                | Tok::Field(_)
                | Tok::Ident(_)
                | Tok::Number(_)
                | Tok::Nil
                | Tok::Str(..)
                | Tok::Variable(_)
                | Tok::LeftParen => {
                    let cmd = self.command(end.clone())?;
                    pipe.cmds.push(cmd);
                }
                Tok::Eof if end == Tok::RightDelim => {
                    return self.err(self.action_pos, "unclosed action");
                }
                _ => return self.unexpected(&it, ctx),
            }
        }
    }

    fn command(&mut self, end: Tok) -> PResult<Command> {
        let start = self.peek_non_space();
        let mut cmd = Command {
            pos: start.pos,
            args: vec![],
        };
        loop {
            self.peek_non_space();
            let it = self.peek().clone();
            if it.tok == end || it.tok == Tok::Pipe {
                if it.tok == Tok::Pipe {
                    self.next();
                    if cmd.args.is_empty() {
                        return self.err(it.pos, "missing command");
                    }
                    // `| }}`: a pipe with nothing after it
                    let nx = self.peek_non_space();
                    if nx.tok == end {
                        return self.err(nx.pos, "missing command");
                    }
                }
                break;
            }
            let op = self.operand()?;
            let Some(op) = op else {
                return self.unexpected(&it, "operand");
            };
            cmd.args.push(op);
            // after an operand: space, end, pipe
            let nx = self.peek().clone();
            match nx.tok {
                Tok::Space => {}
                ref t if *t == end || *t == Tok::Pipe => {}
                Tok::RightDelim | Tok::RightParen => {}
                _ => return self.unexpected(&nx, "operand"),
            }
        }
        if cmd.args.is_empty() {
            return self.err(start.pos, "empty command");
        }
        Ok(cmd)
    }

    /// An operand with its trailing `.field` chain.
    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(term) = self.term()? else {
            return Ok(None);
        };
        let mut fields = vec![];
        // Go gives a chained operand the position of its first `.field`
        // after the term (`.Values.replicas` is "at" `.replicas`).
        let chain_pos = self.peek().pos;
        while let Tok::Field(f) = &self.peek().tok {
            fields.push(f.clone());
            self.next();
        }
        if fields.is_empty() {
            return Ok(Some(term));
        }
        Ok(Some(match term {
            Arg::Field { mut idents, .. } => {
                idents.extend(fields);
                Arg::Field {
                    pos: chain_pos,
                    idents,
                }
            }
            Arg::Variable { mut idents, .. } => {
                idents.extend(fields);
                Arg::Variable {
                    pos: chain_pos,
                    idents,
                }
            }
            Arg::Bool { pos, .. }
            | Arg::String { pos, .. }
            | Arg::Number { pos, .. }
            | Arg::Nil { pos }
            | Arg::Dot { pos } => {
                let _ = pos;
                return self.err(
                    pos,
                    format!("unexpected . after term {:?}", term.to_string()),
                );
            }
            other => Arg::Chain {
                pos: chain_pos,
                node: Box::new(other),
                fields,
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let it = self.next_non_space();
        let pos = it.pos;
        Ok(Some(match it.tok {
            Tok::Ident(name) => {
                if !self.funcs.contains(&name) {
                    return self.err(pos, format!("function {name:?} not defined"));
                }
                Arg::Identifier { pos, name }
            }
            Tok::Dot => Arg::Dot { pos },
            Tok::Nil => Arg::Nil { pos },
            Tok::Variable(v) => {
                if !self.vars.contains(&v) {
                    return self.err(pos, format!("undefined variable {v:?}"));
                }
                Arg::Variable {
                    pos,
                    idents: vec![v],
                }
            }
            Tok::Field(f) => Arg::Field {
                pos,
                idents: vec![f],
            },
            Tok::Bool(b) => Arg::Bool { pos, val: b },
            Tok::Char(raw, c) => Arg::Number {
                pos,
                num: Number {
                    text: raw,
                    int: Some(c as i64),
                    float: Some(c as u32 as f64),
                    is_char: true,
                },
            },
            Tok::Number(text) => {
                let num = parse_number(&text)
                    .ok_or(())
                    .or_else(|_| self.err(pos, format!("illegal number syntax: {text:?}")))?;
                Arg::Number { pos, num }
            }
            Tok::LeftParen => {
                let pipe = self.pipeline("parenthesized pipeline", Tok::RightParen)?;
                Arg::Pipe {
                    pos,
                    pipe: Box::new(pipe),
                }
            }
            Tok::Str(quoted, val) => Arg::String { pos, quoted, val },
            _ => {
                self.i -= 1;
                return Ok(None);
            }
        }))
    }
}

/// Reads a number constant as Go does: an int if it is integral, a float
/// too, hex/octal/binary prefixes.
pub fn parse_number(text: &str) -> Option<Number> {
    let clean = text.replace('_', "");
    let int = crate::funcs::conv::parse_go_int(&clean).or({
        // Go's ParseInt(text, 0, 64) rejects "08"? fall back to decimal for 0-prefixed floats
        None
    });
    let float = if let Some(i) = int {
        Some(i as f64)
    } else if clean.starts_with("0x") || clean.starts_with("0X") {
        None
    } else {
        clean.parse::<f64>().ok()
    };
    let int = int.or_else(|| {
        float
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
            .map(|f| f as i64)
    });
    if int.is_none() && float.is_none() {
        return None;
    }
    Some(Number {
        text: text.to_string(),
        int,
        float,
        is_char: false,
    })
}

enum Step {
    Node(Node),
    End(usize),
    Else(usize, Option<&'static str>),
}

enum BlockEnd {
    End,
    Else(usize),
    ElseIf(usize, &'static str),
    ElseKw(usize, Option<&'static str>),
}

impl BlockEnd {
    fn norm(self) -> BlockEnd {
        match self {
            BlockEnd::ElseKw(p, None) => BlockEnd::Else(p),
            BlockEnd::ElseKw(p, Some(k)) => BlockEnd::ElseIf(p, k),
            e => e,
        }
    }
}

/// Convenience for the executor: templates by name.
pub type TreeSet = HashMap<String, Rc<Tree>>;
