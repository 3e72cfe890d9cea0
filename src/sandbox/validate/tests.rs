use super::*;

#[test]
fn service_ports_are_checked() {
    let service = |port| LocalService {
        port,
        serve: std::sync::Arc::new(|_| {}),
    };
    assert_eq!(
        service_ports(&[service(3129), service(80)]).unwrap(),
        [3129, 80]
    );
    for (ports, problem) in [
        (&[0][..], "port 0"),
        (&[EGRESS_PORT_INSIDE][..], "egress proxy"),
        (&[3129, 3129][..], "twice"),
    ] {
        let services: Vec<_> = ports.iter().map(|&p| service(p)).collect();
        let err = service_ports(&services).unwrap_err().to_string();
        assert!(err.contains(problem), "{ports:?}: {err}");
    }
    let many: Vec<_> = (1..=MAX_SERVICES as u16 + 1)
        .map(|p| service(p + 4000))
        .collect();
    assert!(service_ports(&many).is_err());
    assert!(format!("{:?}", service(3129)).contains("3129"));
}

#[test]
fn program_names_must_be_plain_file_names() {
    let program = |name: &str| Program {
        name: name.into(),
        host_path: PathBuf::from("/bin/sh"),
    };
    assert!(host_programs(&[program("sh")], false).is_ok());
    for name in ["", ".", "..", "a/b", "/sh", "a\0b"] {
        let err = host_programs(&[program(name)], false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a plain file name"), "{name:?}: {err}");
    }
    let err = host_programs(&[program("sh"), program("sh")], false).unwrap_err();
    assert!(err.to_string().contains("twice"), "{err}");
    let dir = Program {
        name: "d".into(),
        host_path: PathBuf::from("/"),
    };
    assert!(host_programs(&[dir], false).is_err());
}
